"""The label table training reads: one row per (entity, moment) with the outcome to learn.

Its columns: the feature service's join keys, `event_timestamp` (when the prediction would
have been made, UTC), the request fields of the service's on-demand views, and the label.
A keel.yaml model names its file; the churn example writes its own (`synthetic.churn_labels`).
Training never builds labels: it reads them, checked, with
`keel.feast_plumbing.project_checks.read_labels`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TIMESTAMP = "event_timestamp"


@dataclass(frozen=True)
class LabelTable:
    """A label table's file and label column, and how it was made: `params` and `tags` are
    logged with the training run, `rows` says what a row is (the logged dataset is named
    `{feature service}-{rows}`)."""

    path: Path
    label: str
    params: Mapping[str, str | int | float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    rows: str = "labels"

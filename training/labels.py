"""The label table training reads: one row per (entity, moment) with the outcome to learn.

Its columns: the feature service's join keys, `event_timestamp` (when the prediction would
have been made, UTC), the request fields of the service's on-demand views, and the label.
A keel.yaml model names its file (checked by `keel.project_checks`); the churn example writes
its own (`synthetic.churn_labels`). Training never builds labels, it reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from keel.errors import InvalidInput

TIMESTAMP = "event_timestamp"


@dataclass(frozen=True)
class LabelTable:
    """A label table's file and label column, and how it was made (logged as run params)."""

    path: Path
    label: str
    params: Mapping[str, str | int | float] = field(default_factory=dict)


def read_label_table(table: LabelTable) -> pd.DataFrame:
    """The table's rows (Parquet or CSV), timestamps in UTC; `InvalidInput` naming the file and
    the column when the timestamp or the label is missing."""
    path = Path(table.path)
    if not path.exists():
        raise InvalidInput(f"{path}: label table not found")
    frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    missing = [c for c in (TIMESTAMP, table.label) if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{path}: label table lacks column(s) {', '.join(missing)}")
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True)
    return frame

"""The "real table" of any registered model: its training frame without identifiers.

The frame is the one training logged with the version (`datasets/training_frame.parquet` of
the training run); a version whose frame was not logged has it rebuilt from keel.yaml's label
table and feature service (point in time, through Feast, as training built it). Join keys and
the timestamp are dropped: the table keeps the model's features, in the model's order, and its
label, which is what one would want to synthesize and share.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from keel.core.errors import ModelNotFound
from keel.core.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

FRAME_ARTIFACT = "datasets/training_frame.parquet"
PARENT_TAG = "mlflow.parentRunId"


@dataclass(frozen=True)
class ModelTable:
    """One model version's labelled table and what it is."""

    frame: pd.DataFrame
    model: str
    version: str
    label: str
    task: str
    source: str
    """Where the rows came from: the logged frame's run, or the label table rebuilt."""

    @property
    def label_figure(self) -> float:
        """The label's rate (binary) or mean (regression)."""
        return float(pd.to_numeric(self.frame[self.label]).mean())


def model_columns(frame: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """The spec's features (in its order) and label out of a training frame."""
    features = [f["name"] for f in spec["features"]]
    wanted = [*features, spec["label"]]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ModelNotFound(
            f"model {spec['name']}: its training frame lacks column(s) {', '.join(missing)}"
        )
    return frame[wanted].reset_index(drop=True)


def _logged_frame(client: MlflowClient, run_id: str) -> tuple[pd.DataFrame, str] | None:
    """The frame logged by the training run of `run_id` (the run itself, or its parent)."""
    from mlflow.exceptions import MlflowException

    run = client.get_run(run_id)
    candidates = [r for r in (run.data.tags.get(PARENT_TAG), run_id) if r]
    with tempfile.TemporaryDirectory() as tmp:
        for candidate in candidates:
            try:
                local = client.download_artifacts(candidate, FRAME_ARTIFACT, tmp)
            except (MlflowException, OSError):
                continue
            return pd.read_parquet(local), f"run {candidate}"
    return None


def rebuilt_frame(name: str) -> tuple[pd.DataFrame, str] | None:
    """The frame rebuilt from keel.yaml's label table and feature service, if it has `name`."""
    from keel.core.project import discover_project
    from keel.feast_plumbing.project_checks import check_model, open_store, read_labels
    from training.model_frame import build_model_frame

    project = discover_project()
    if project is None or name not in {m.name for m in project.models}:
        return None
    spec = project.model(name)
    store = open_store(project)
    summary = check_model(store, project, spec)
    data = build_model_frame(store, summary, read_labels(spec, summary.service))
    return data.frame, f"{spec.labels} rebuilt with {spec.feature_service}"


def model_table(settings: Settings, model_ref: str) -> ModelTable:
    """The labelled table of the version `model_ref` names (`delivery_minutes@champion`, ...)."""
    from registry.client import mlflow_client
    from registry.model_spec import load_model_spec
    from registry.refs import parse_ref, resolve_ref

    client = mlflow_client(settings)
    version = resolve_ref(client, parse_ref(model_ref))
    name = str(version.name)
    spec = load_model_spec(client, name, str(version.version))
    found = _logged_frame(client, str(version.run_id)) if version.run_id else None
    found = found or rebuilt_frame(name)
    if found is None:
        raise ModelNotFound(
            f"{model_ref} (version {version.version}) has no {FRAME_ARTIFACT} and keel.yaml "
            f"has no model {name} to rebuild it from"
        )
    frame, source = found
    return ModelTable(
        frame=model_columns(frame, spec),
        model=name,
        version=str(version.version),
        label=str(spec["label"]),
        task=str(spec["task"]),
        source=source,
    )

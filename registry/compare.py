"""Two model versions scored on the same held-out rows, side by side, with overlaid PR curves.

The held-out set is rebuilt the way training builds it: labelled snapshots from the workspace's
raw data, point-in-time features from Feast, and the last snapshot of the time split. Both
versions therefore see exactly the same entities at the same instant, whatever their registry
metrics say (those may come from different data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from keel.core.errors import InvalidInput
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.feast_plumbing.feature_store import open_store
from registry.catalog import registry_client
from registry.lineage import version_feature_service
from registry.models import load_version
from registry.refs import ModelRef, resolve_ref
from synthetic.churn_labels import LABEL, SnapshotPlan, churn_snapshots
from training.dataset import build_training_frame
from training.evaluate import classification_metrics
from training.labels import TIMESTAMP
from training.plots import pr_curves
from training.split import split_by_time

COMPARED_METRICS = ("pr_auc", "roc_auc", "brier", "log_loss", "ece", "precision_top_decile")


@dataclass(frozen=True)
class Comparison:
    """Metrics of each version (keyed `name/version`) on one held-out snapshot, and the plot."""

    labels: list[str]
    rows: int
    positive_rate: float
    snapshot_at: str
    metrics: dict[str, dict[str, float]]
    plot: Path

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "plot": str(self.plot)}


def _plan(client: MlflowClient, version: ModelVersion) -> SnapshotPlan:
    """The snapshot plan the version was trained with (its training run's params)."""
    run_id = (version.tags or {}).get("keel.training_run_id") or version.run_id
    params = client.get_run(run_id).data.params if run_id else {}
    defaults = SnapshotPlan()
    return SnapshotPlan(
        horizon_days=int(params.get("horizon_days", defaults.horizon_days)),
        step_days=int(params.get("step_days", defaults.step_days)),
    )


def held_out_scores(
    settings: Settings, versions: list[ModelVersion], *, plan: SnapshotPlan
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """The test snapshot (with labels) and each version's scores on it."""
    client = registry_client(settings)
    store = open_store(settings)
    entities = churn_snapshots(Workspace.from_settings(settings).raw_dir, plan)
    frames: dict[str, pd.DataFrame] = {}
    scores: dict[str, pd.Series] = {}
    test: pd.DataFrame | None = None
    for version in versions:
        service = version_feature_service(version) or settings.feature_service
        if service not in frames:
            frame = build_training_frame(store, entities, feature_service=service).frame
            frames[service] = split_by_time(frame).test.reset_index(drop=True)
        part = frames[service]
        test = part if test is None else test
        loaded = load_version(client, version, alias=None)
        columns = loaded.feature_columns or [c for c in part.columns if c not in (LABEL, TIMESTAMP)]
        scores[f"{version.name}/{version.version}"] = pd.Series(
            loaded.pipeline.predict_proba(part[columns])[:, 1]
        )
    assert test is not None  # at least one version was given
    return test, scores


def default_plot_path(settings: Settings, labels: list[str]) -> Path:
    """Where the PR curves go without `--out`: the workspace's reports, never the current
    directory (`reports/pr_churn-2_vs_churn-3.png`)."""
    slug = "_vs_".join(label.replace("/", "-") for label in labels)
    return Workspace.from_settings(settings).reports_dir / f"pr_{slug}.png"


def compare_versions(
    settings: Settings, first: ModelRef, second: ModelRef, *, out: Path | None = None
) -> Comparison:
    """Score both versions on the same held-out snapshot; write their PR curves to `out`
    (default: `default_plot_path`)."""
    client = registry_client(settings)
    versions = [resolve_ref(client, first), resolve_ref(client, second)]
    labels = [f"{v.name}/{v.version}" for v in versions]
    if labels[0] == labels[1]:
        raise InvalidInput(f"both references name {labels[0]}: compare two different versions")
    out = (out or default_plot_path(settings, labels)).resolve()
    test, scores = held_out_scores(settings, versions, plan=_plan(client, versions[-1]))
    metrics = {
        label: {
            k: v
            for k, v in classification_metrics(test[LABEL], scores[label]).items()
            if k in COMPARED_METRICS
        }
        for label in labels
    }
    snapshot = str(pd.Timestamp(test[TIMESTAMP].iloc[0]).date())
    plot = pr_curves(test[LABEL], scores, out, title=f"Precision-recall on the {snapshot} snapshot")
    return Comparison(
        labels=labels,
        rows=len(test),
        positive_rate=float(test[LABEL].mean()),
        snapshot_at=snapshot,
        metrics=metrics,
        plot=plot,
    )

"""The churn example's label table: (customer, snapshot time, churned within `horizon` days).

This is how the churn example writes its labels, as any project would write its own: a file
with the join key (`customer_id`), `event_timestamp` (the snapshot: when the prediction would
have been made), the on-demand view's request field (`as_of_unix`) and the label (`churned`).
Training only reads it (`training.labels`). Features come as of each snapshot time, labels
from what happened after it, so the two never overlap.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd

from feature_repo.example import ENTITY_KEY, LABEL_COLUMN
from keel.core.atomic_files import write_bytes
from keel.core.errors import WorkspaceNotReady
from keel.core.project import ModelSpec, Split
from keel.core.provenance import read_manifest
from keel.core.settings import Settings
from training.labels import TIMESTAMP, LabelTable

LABEL = LABEL_COLUMN
KEY = ENTITY_KEY
LABELS_DIR = "labels"
"""Beside the raw tables' directory: `$KEEL_HOME/data/labels/`."""


@dataclass(frozen=True)
class SnapshotPlan:
    """When to take snapshots: every `step_days`, leaving `horizon_days` for the label."""

    horizon_days: int = 30
    step_days: int = 30
    warmup_days: int = 30

    def __post_init__(self) -> None:
        for name in ("horizon_days", "step_days", "warmup_days"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")


def snapshot_times(
    first_day: pd.Timestamp, end: pd.Timestamp, plan: SnapshotPlan
) -> list[pd.Timestamp]:
    """Snapshot instants (UTC midnights) whose label window ends by `end`."""
    first = first_day + timedelta(days=plan.warmup_days)
    last = end - timedelta(days=plan.horizon_days)
    times = []
    t = first
    while t <= last:
        times.append(t)
        t += timedelta(days=plan.step_days)
    return times


def label_snapshots(
    customers: pd.DataFrame,
    churn_events: pd.DataFrame,
    times: list[pd.Timestamp],
    *,
    horizon_days: int,
) -> pd.DataFrame:
    """One row per customer active at each snapshot; `churned` = 1 if churn in (t, t+H]."""
    churned_at = churn_events.set_index(KEY)["churned_at"]
    base = customers[[KEY, "signup_at"]].copy()
    base["churned_at"] = base[KEY].map(churned_at)
    frames = []
    horizon = timedelta(days=horizon_days)
    for t in times:
        active = base[
            (base["signup_at"] < t) & (base["churned_at"].isna() | (base["churned_at"] > t))
        ]
        frame = pd.DataFrame({KEY: active[KEY].to_numpy()})
        frame[TIMESTAMP] = t
        frame[LABEL] = (
            (active["churned_at"] <= t + horizon).fillna(False).astype("int64").to_numpy()
        )
        frames.append(frame)
    if not frames:
        raise ValueError("no snapshot fits in the data: generate more days or shorten the horizon")
    out = pd.concat(frames, ignore_index=True)
    out[TIMESTAMP] = pd.to_datetime(out[TIMESTAMP], utc=True).astype("datetime64[us, UTC]")
    out["as_of_unix"] = out[TIMESTAMP].astype("int64") // 1_000_000
    return out.sort_values([TIMESTAMP, KEY], ignore_index=True)


def churn_snapshots(raw_dir: Path, plan: SnapshotPlan) -> pd.DataFrame:
    """The labelled snapshots from the raw customers, activity days and churn events."""
    paths = {
        name: raw_dir / f"{name}.parquet" for name in ("customers", "churn_events", "activity")
    }
    for path in paths.values():
        if not path.exists():
            raise WorkspaceNotReady(f"{path} is missing: run `keel data generate` first")
    customers = pd.read_parquet(paths["customers"])
    churn_events = pd.read_parquet(paths["churn_events"])
    days = pd.read_parquet(paths["activity"], columns=["activity_date"])["activity_date"]
    first_day, end = days.min(), days.max() + pd.Timedelta(days=1)
    times = snapshot_times(first_day, end, plan)
    return label_snapshots(customers, churn_events, times, horizon_days=plan.horizon_days)


def label_table_path(raw_dir: Path, plan: SnapshotPlan) -> Path:
    """Where the table of `plan` is written: one file per plan, beside the raw tables."""
    name = f"churn_h{plan.horizon_days}_s{plan.step_days}_w{plan.warmup_days}.parquet"
    return raw_dir.parent / LABELS_DIR / name


def write_churn_labels(raw_dir: Path, plan: SnapshotPlan | None = None) -> LabelTable:
    """Write the churn label table of `plan` (default: 30-day horizon, a snapshot every 30
    days) from the raw tables in `raw_dir`, atomically; the table training reads, with how it
    was made (the plan, and the generator's seed of the raw tables)."""
    plan = plan or SnapshotPlan()
    frame = churn_snapshots(raw_dir, plan)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    path = write_bytes(label_table_path(raw_dir, plan), buffer.getvalue())
    params = {"horizon_days": plan.horizon_days, "step_days": plan.step_days}
    manifest = read_manifest(raw_dir)
    tags = {"keel.generator_seed": str(manifest["seed"])} if "seed" in manifest else {}
    return LabelTable(path=path, label=LABEL, params=params, tags=tags, rows="snapshots")


def churn_model(settings: Settings, labels: LabelTable) -> ModelSpec:
    """The churn example as a keel.yaml model: the workspace's model (`churn` unless set) on
    feature service `churn_v1`, binary, trained on the label table `labels`, split by snapshot
    (the last tests, the one before validates)."""
    return ModelSpec(
        name=settings.model_name,
        feature_service=settings.feature_service,
        labels=labels.path,
        label=labels.label,
        task="binary",
        split=Split(by="snapshots"),
    )

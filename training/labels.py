"""Labelled snapshots: (customer, snapshot time, churned within the next `horizon` days).

These rows are the entity frame handed to Feast: features come as of each snapshot time,
labels from what happened after it, so the two never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

LABEL = "churned"
TIMESTAMP = "event_timestamp"


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
    churned_at = churn_events.set_index("customer_id")["churned_at"]
    base = customers[["customer_id", "signup_at"]].copy()
    base["churned_at"] = base["customer_id"].map(churned_at)
    frames = []
    horizon = timedelta(days=horizon_days)
    for t in times:
        active = base[
            (base["signup_at"] < t) & (base["churned_at"].isna() | (base["churned_at"] > t))
        ]
        frame = pd.DataFrame({"customer_id": active["customer_id"].to_numpy()})
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
    return out.sort_values([TIMESTAMP, "customer_id"], ignore_index=True)

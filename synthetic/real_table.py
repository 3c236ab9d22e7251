"""The "real table" for churn: labelled, one row per customer, built from a workspace.

Rows are the customers active at the latest snapshot of the default ``SnapshotPlan`` (the
last midnight that still leaves 30 days for the label); columns are every feature of the
profile, activity and support tables as of that instant (point in time: only rows stamped
at or before it), ``tenure_days`` instead of the signup time, and the label ``churned``
(churn within the next 30 days). No identifier: this is the table one would want to share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from feature_repo.tables import ACTIVITY_TABLE, PROFILE_TABLE, SUPPORT_TABLE
from keel.core.errors import WorkspaceNotReady
from synthetic.churn_labels import LABEL, SnapshotPlan, label_snapshots, snapshot_times

_DROP = ("customer_id", "event_timestamp", "signup_unix")

AS_OF_SQL = """
SELECT * EXCLUDE (event_timestamp) FROM read_parquet(?)
WHERE event_timestamp <= ?
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY event_timestamp DESC) = 1
"""


@dataclass(frozen=True)
class RealTables:
    """The labelled table split by customer into the part to synthesize from and a holdout."""

    real: pd.DataFrame
    holdout: pd.DataFrame
    snapshot: pd.Timestamp


def churn_table(
    raw_dir: Path, features_dir: Path, *, plan: SnapshotPlan | None = None
) -> pd.DataFrame:
    """Features as of the latest snapshot plus its label, one row per active customer."""
    plan = plan or SnapshotPlan()
    paths = [Path(raw_dir) / f"{n}.parquet" for n in ("customers", "churn_events", "activity")]
    paths += [Path(features_dir) / t for t in (PROFILE_TABLE, ACTIVITY_TABLE, SUPPORT_TABLE)]
    for path in paths:
        if not path.exists():
            raise WorkspaceNotReady(f"{path} is missing: run `keel data generate` first")
    customers, events = pd.read_parquet(paths[0]), pd.read_parquet(paths[1])
    at = latest_snapshot(raw_dir, plan)
    labels = label_snapshots(customers, events, [at], horizon_days=plan.horizon_days)
    frame = labels[["customer_id", LABEL]]
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for path in paths[3:]:
            features = con.execute(AS_OF_SQL, [str(path), at.to_pydatetime()]).df()
            frame = frame.merge(features, on="customer_id", how="left")
    frame["tenure_days"] = (at.timestamp() - frame["signup_unix"]) / 86_400.0
    ordered = [c for c in frame.columns if c not in (*_DROP, LABEL)] + [LABEL]
    return frame[ordered].reset_index(drop=True)


def split_holdout(
    frame: pd.DataFrame, *, share: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random ``share`` of rows as the holdout (never shown to the synthesizer), the rest."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"holdout share must be in (0, 1), got {share!r}")
    held = np.random.default_rng(seed).random(len(frame)) < share
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)


def real_tables(
    raw_dir: Path, features_dir: Path, *, holdout_share: float = 0.2, seed: int = 0
) -> RealTables:
    """``churn_table`` split into the real table and its holdout."""
    frame = churn_table(raw_dir, features_dir)
    real, holdout = split_holdout(frame, share=holdout_share, seed=seed)
    return RealTables(real=real, holdout=holdout, snapshot=latest_snapshot(raw_dir, SnapshotPlan()))


def latest_snapshot(raw_dir: Path, plan: SnapshotPlan) -> pd.Timestamp:
    """The last snapshot instant of ``plan`` that fits in the generated window."""
    path = Path(raw_dir) / "activity.parquet"
    days = pd.read_parquet(path, columns=["activity_date"])["activity_date"]
    times = snapshot_times(days.min(), days.max() + pd.Timedelta(days=1), plan)
    if not times:
        raise WorkspaceNotReady("no snapshot fits in the data: generate more days")
    return times[-1]

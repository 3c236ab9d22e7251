"""Reference and current windows of model inputs, rebuilt from the feature tables.

A window stacks feature vectors of the customers active at some instants, point in time (each
table's latest row stamped at or before the instant, as Feast joins them; a test checks the
one-pass query against that join), plus the request-time features
(`feature_repo.on_demand.customer_derived`), so its columns are the model's inputs.

- reference: the features as of the *last training snapshot* (`synthetic.churn_labels.SnapshotPlan`:
  the last midnight leaving 30 days for the label, which is when the generator's drift
  scenarios start);
- current: the rows of the last 30 days, as of every 5th day ending with the last day (what a
  prediction log of that month would hold, one row per customer and instant).

Why not every training snapshot as the reference: the early snapshots have truncated 90-day
windows (30 days of warm-up) and a younger population, so pooled snapshots flag the `*_90d`
features and `tenure_days` as drifted on data with no scenario at all (see monitoring/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from feature_repo.on_demand import customer_derived
from feature_repo.tables import ACTIVITY_TABLE, PROFILE_TABLE, SUPPORT_TABLE
from keel.core.errors import WorkspaceNotReady
from synthetic.churn_labels import SnapshotPlan, snapshot_times

WINDOW_SQL = """
SELECT a.*,
       s.* EXCLUDE (customer_id, event_timestamp),
       p.* EXCLUDE (customer_id, event_timestamp)
FROM read_parquet($activity) a
LEFT JOIN read_parquet($support) s USING (customer_id, event_timestamp)
LEFT JOIN read_parquet($profile) p
       ON p.customer_id = a.customer_id AND p.event_timestamp <= a.event_timestamp
WHERE a.event_timestamp IN (SELECT UNNEST($instants))
ORDER BY a.event_timestamp, a.customer_id
"""
LAST_SQL = "SELECT max(event_timestamp) FROM read_parquet(?)"
FIRST_SQL = "SELECT min(event_timestamp) FROM read_parquet(?)"


def _paths(features_dir: Path) -> dict[str, Path]:
    paths = {t: Path(features_dir) / t for t in (PROFILE_TABLE, ACTIVITY_TABLE, SUPPORT_TABLE)}
    for path in paths.values():
        if not path.exists():
            raise WorkspaceNotReady(f"{path} is missing: run `keel data generate` first")
    return paths


def features_at(features_dir: Path, instants: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """Every feature, as of each instant, of the customers active on the day before it.

    The activity and support tables hold one row per active customer-day stamped at the
    midnight after it, so a customer's rows as of instant t are exactly those stamped t; the
    profile row is the customer's (one per customer, stamped at signup). One DuckDB pass.
    """
    if not instants:
        raise WorkspaceNotReady("no instant to build a window at: generate more days")
    paths = _paths(features_dir)
    moments = [pd.Timestamp(t).to_pydatetime() for t in instants]
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        params = {
            "activity": str(paths[ACTIVITY_TABLE]),
            "support": str(paths[SUPPORT_TABLE]),
            "profile": str(paths[PROFILE_TABLE]),
            "instants": moments,
        }
        frame = con.execute(WINDOW_SQL, params).df()
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    epoch = pd.Timestamp(0, tz="UTC")
    frame["as_of_unix"] = (frame["event_timestamp"] - epoch) // pd.Timedelta(seconds=1)
    derived = customer_derived(frame)
    frame = pd.concat([frame, derived], axis=1)
    return frame.drop(columns=["as_of_unix", "signup_unix"]).reset_index(drop=True)


def features_as_of(features_dir: Path, at: pd.Timestamp) -> pd.DataFrame:
    """`features_at` one instant."""
    return features_at(features_dir, [at])


def window_bounds(features_dir: Path) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last activity stamps: the day after the first and after the last day."""
    path = str(_paths(features_dir)[ACTIVITY_TABLE])
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        first = con.execute(FIRST_SQL, [path]).fetchone()
        last = con.execute(LAST_SQL, [path]).fetchone()
    if not first or not last or first[0] is None:
        raise WorkspaceNotReady(f"{path} has no rows: run `keel data generate` first")
    return pd.Timestamp(first[0]), pd.Timestamp(last[0])


def reference_instants(features_dir: Path, plan: SnapshotPlan | None = None) -> list[pd.Timestamp]:
    """The training snapshot instants of `plan` in the generated window."""
    first, last = window_bounds(features_dir)
    instants = snapshot_times(first - pd.Timedelta(days=1), last, plan or SnapshotPlan())
    if not instants:
        raise WorkspaceNotReady("no training snapshot fits in the data: generate more days")
    return instants


def reference_window(features_dir: Path, plan: SnapshotPlan | None = None) -> pd.DataFrame:
    """Features as of the last training snapshot of `plan`."""
    return features_as_of(features_dir, reference_instants(features_dir, plan)[-1])


def current_instants(
    features_dir: Path, *, days: int = 30, step_days: int = 5
) -> list[pd.Timestamp]:
    """Every `step_days`-th instant of the last `days` days, the end of the window included."""
    if not 0 < step_days <= days:
        raise ValueError(f"need 0 < step_days <= days, got step_days={step_days}, days={days}")
    end = window_bounds(features_dir)[1]
    return [end - pd.Timedelta(days=k) for k in range(days - step_days, -1, -step_days)]


def current_window(features_dir: Path, *, days: int = 30, step_days: int = 5) -> pd.DataFrame:
    """Features of the last `days` days, as of every `step_days`-th day (the last one included)."""
    return pooled(features_dir, current_instants(features_dir, days=days, step_days=step_days))


def pooled(features_dir: Path, instants: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """`features_at` several instants, stacked (an alias that reads better at call sites)."""
    return features_at(features_dir, instants)

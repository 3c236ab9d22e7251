"""Leakage: Feast's point-in-time training frame equals a brute-force pandas reference, and a
feature row stamped one second after a snapshot never reaches that snapshot's row."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feature_repo.on_demand import customer_derived
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.feast_plumbing.feature_store import open_store
from keel.feast_plumbing.features import apply_definitions
from synthetic.churn_dataset import generate_dataset
from synthetic.churn_labels import SnapshotPlan, churn_snapshots
from training.dataset import build_training_frame

pytestmark = pytest.mark.integration

VIEWS = {
    "customer_profile.parquet": (None, ["plan", "region", "monthly_price", "signup_unix"]),
    "customer_activity.parquet": (
        timedelta(days=2),
        [
            "logins_7d",
            "logins_30d",
            "logins_90d",
            "minutes_7d",
            "minutes_30d",
            "minutes_90d",
            "sessions_30d",
            "active_days_30d",
            "spend_30d",
            "spend_90d",
        ],
    ),
    "customer_support.parquet": (
        timedelta(days=2),
        ["tickets_30d", "tickets_90d", "cancellation_tickets_30d"],
    ),
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("leakage") / "ws")
    generate_dataset(settings, customers=300, days=100, seed=3, end=date(2026, 1, 1))
    apply_definitions(settings)
    return settings


def brute_force(entities: pd.DataFrame, features_dir: Path) -> pd.DataFrame:
    """For each row, the latest feature row at or before the snapshot, within the view's TTL."""
    out = entities.sort_values("event_timestamp").reset_index(drop=True)
    for table, (ttl, columns) in VIEWS.items():
        rows = pd.read_parquet(features_dir / table).sort_values("event_timestamp")
        rows = rows.rename(columns={"event_timestamp": "feature_ts"})[
            ["customer_id", "feature_ts", *columns]
        ]
        out = pd.merge_asof(
            out,
            rows,
            left_on="event_timestamp",
            right_on="feature_ts",
            by="customer_id",
            direction="backward",
            tolerance=ttl,
        ).drop(columns="feature_ts")
    derived = customer_derived(out)
    return pd.concat([out, derived], axis=1)


def _compare(actual: pd.DataFrame, expected: pd.DataFrame, columns: list[str]) -> None:
    key = ["customer_id", "event_timestamp"]
    merged = actual.merge(expected, on=key, suffixes=("", "_expected"), validate="one_to_one")
    assert len(merged) == len(actual) == len(expected)
    for column in columns:
        got, want = merged[column], merged[f"{column}_expected"]
        if got.dtype == object or want.dtype == object:
            assert (got.fillna("<null>") == want.fillna("<null>")).all(), column
        else:
            assert np.allclose(
                got.astype(float), want.astype(float), rtol=1e-12, atol=0, equal_nan=True
            ), column


def test_training_frame_equals_the_brute_force_reference(workspace: Settings) -> None:
    ws = Workspace.from_settings(workspace)
    entities = churn_snapshots(ws.raw_dir, SnapshotPlan())
    training = build_training_frame(
        open_store(workspace), entities, feature_service=workspace.feature_service
    )
    expected = brute_force(entities, ws.features_dir)
    assert len(training.frame) == len(entities)
    _compare(training.frame, expected, training.feature_columns)
    # The reference really exercised the TTL and the point in time, not just lookups.
    assert training.frame["logins_7d"].notna().mean() > 0.9


def test_a_feature_row_one_second_after_the_snapshot_never_reaches_it(workspace: Settings) -> None:
    ws = Workspace.from_settings(workspace)
    entities = churn_snapshots(ws.raw_dir, SnapshotPlan())
    store = open_store(workspace)
    before = build_training_frame(store, entities, feature_service=workspace.feature_service)
    path = ws.features_dir / "customer_activity.parquet"
    original = pd.read_parquet(path)
    future = entities[["customer_id", "event_timestamp"]].copy()
    future["event_timestamp"] = future["event_timestamp"] + pd.Timedelta(seconds=1)
    poison = original.head(0).reindex(range(len(future)))
    poison["customer_id"] = future["customer_id"].to_numpy()
    poison["event_timestamp"] = future["event_timestamp"].to_numpy()
    for column in original.columns.drop(["customer_id", "event_timestamp"]):
        poison[column] = 10**6
    poisoned = pd.concat([original, poison.astype(original.dtypes.to_dict())], ignore_index=True)
    try:
        poisoned.to_parquet(path, index=False)
        after = build_training_frame(store, entities, feature_service=workspace.feature_service)
    finally:
        original.to_parquet(path, index=False)
    assert (after.frame["logins_7d"].fillna(0) < 10**6).all()
    _compare(after.frame, before.frame, before.feature_columns)

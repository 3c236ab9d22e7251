"""Keel's ASOF offline store returns the same training frame as Feast's stock DuckDB store."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, RepoConfig
from feast.types import Float64, Int64
from feast.value_type import ValueType

from feature_repo.definitions import CHURN_SERVICE
from keel.data import generate_dataset
from keel.feature_store import REPO_DIR, open_store, repo_config
from keel.features import apply_definitions
from keel.offline_store import KeelDuckDBOfflineStore, KeelRetrievalJob
from keel.settings import Settings
from keel.workspace import Workspace
from synthetic.churn_labels import SnapshotPlan, churn_snapshots
from training.dataset import normalise_entity_frame

pytestmark = pytest.mark.integration

KEY = ["customer_id", "event_timestamp"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("offline-store") / "ws")
    generate_dataset(settings, customers=200, days=60, seed=5, end=date(2026, 1, 1))
    apply_definitions(settings)
    return settings


@pytest.fixture(scope="module")
def stores(workspace: Settings) -> tuple[FeatureStore, FeatureStore]:
    """Keel's store as configured, and the same repo on Feast's stock `type: duckdb`."""
    stock_config = repo_config(workspace)
    stock_config.offline_config = {"type": "duckdb"}
    stock_config._offline_store = None
    stock = FeatureStore(repo_path=str(REPO_DIR), config=stock_config)
    return open_store(workspace), stock


def _frame(store: FeatureStore, entities: pd.DataFrame, *, full_names: bool) -> pd.DataFrame:
    job = store.get_historical_features(
        entity_df=entities.copy(),
        features=store.get_feature_service(CHURN_SERVICE),
        full_feature_names=full_names,
    )
    frame = job.to_df()
    sort_by = [*KEY, *(c for c in ("label",) if c in frame.columns)]
    return frame.sort_values(sort_by, kind="stable").reset_index(drop=True)


def _assert_same(stores: tuple[FeatureStore, FeatureStore], entities: pd.DataFrame) -> None:
    keel, stock = stores
    for full_names in (False, True):
        ours = _frame(keel, entities, full_names=full_names)
        theirs = _frame(stock, entities, full_names=full_names)
        assert len(ours) == len(entities)
        assert list(ours.columns) == list(theirs.columns)
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True)


def test_keel_store_is_the_configured_offline_store(workspace: Settings) -> None:
    store = open_store(workspace)
    assert isinstance(store._get_provider().offline_store, KeelDuckDBOfflineStore)
    job = store.get_historical_features(
        entity_df=normalise_entity_frame(
            churn_snapshots(Workspace.from_settings(workspace).raw_dir, SnapshotPlan())
        ),
        features=store.get_feature_service(CHURN_SERVICE),
    )
    assert isinstance(job, KeelRetrievalJob)
    assert "ASOF LEFT JOIN" in job.to_sql()


def test_training_snapshots_equal_the_stock_duckdb_store(
    workspace: Settings, stores: tuple[FeatureStore, FeatureStore]
) -> None:
    ws = Workspace.from_settings(workspace)
    entities = normalise_entity_frame(churn_snapshots(ws.raw_dir, SnapshotPlan()))
    _assert_same(stores, entities)


def test_edge_rows_equal_the_stock_duckdb_store(
    workspace: Settings, stores: tuple[FeatureStore, FeatureStore]
) -> None:
    """Unknown customers, times before any feature row, duplicates and an exact-time match."""
    ws = Workspace.from_settings(workspace)
    activity = pd.read_parquet(ws.features_dir / "customer_activity.parquet")
    exact = activity.sort_values(KEY).iloc[[10, 500, 1500]][KEY]
    first = activity["event_timestamp"].min()
    last = activity.groupby("customer_id", as_index=False)["event_timestamp"].max().head(3)
    ttl, second = pd.Timedelta(days=2), pd.Timedelta(seconds=1)
    rows = pd.concat(
        [
            exact,  # a feature row stamped exactly at the snapshot counts (inclusive)
            exact.iloc[[0, 0]],  # the same (customer, time) twice
            pd.DataFrame(
                {"customer_id": [10**9, 10**9 + 1], "event_timestamp": [first, first]}
            ),  # unknown customers
            pd.DataFrame(
                {
                    "customer_id": [1, 2],
                    "event_timestamp": [first - pd.Timedelta(days=30)] * 2,
                }
            ),  # before any feature row
            exact.assign(event_timestamp=exact["event_timestamp"] - pd.Timedelta(seconds=1)),
            last.assign(event_timestamp=last["event_timestamp"] + ttl),  # exactly TTL old: valid
            last.assign(event_timestamp=last["event_timestamp"] + ttl + second),  # expired
        ],
        ignore_index=True,
    )
    rows["as_of_unix"] = rows["event_timestamp"].astype("int64") // 10**6
    rows["label"] = range(len(rows))
    entities = normalise_entity_frame(rows)
    entities["as_of_unix"] = entities["event_timestamp"].astype("int64") // 10**6
    _assert_same(stores, entities)
    keel, _ = stores
    frame = _frame(keel, entities, full_names=False)
    unknown = frame[frame["customer_id"] >= 10**9]
    assert len(unknown) == 2 and unknown["logins_7d"].isna().all()
    assert frame.loc[frame["customer_id"].isin(exact["customer_id"]), "logins_7d"].notna().any()
    at_ttl = frame.merge(last.assign(event_timestamp=last["event_timestamp"] + ttl), on=KEY)
    past_ttl = frame.merge(
        last.assign(event_timestamp=last["event_timestamp"] + ttl + second), on=KEY
    )
    assert at_ttl["logins_7d"].notna().all() and past_ttl["logins_7d"].isna().all()


def _tiny_store(root: Path, offline_type: str) -> FeatureStore:
    config = RepoConfig(
        project="tiny",
        provider="local",
        registry=str(root / "registry.db"),
        online_store={"type": "sqlite", "path": str(root / "online.db")},
        offline_store={"type": offline_type},
        entity_key_serialization_version=3,
        repo_path=str(root),
    )
    return FeatureStore(repo_path=str(root), config=config)


def test_field_mapping_join_key_map_and_created_timestamp_match_the_stock_store(
    tmp_path: Path,
) -> None:
    """Source columns renamed by `field_mapping`, a view joined on another entity column, and
    two rows at one event time where the later-created one must win."""
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    rows = pd.DataFrame(
        {
            "cust": [1, 1, 1, 2],
            "ts": [t0, t0, t0 + pd.Timedelta(days=1), t0],
            "created": [t0, t0 + pd.Timedelta(hours=1), t0, t0],
            "val_src": [10.0, 11.0, 12.0, 20.0],
        }
    )
    rows.to_parquet(tmp_path / "rows.parquet", index=False)
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    source = FileSource(
        name="rows",
        path=str(tmp_path / "rows.parquet"),
        timestamp_field="ts",
        created_timestamp_column="created",
        field_mapping={"cust": "customer_id", "val_src": "val"},
    )
    view = FeatureView(
        name="tiny",
        entities=[customer],
        ttl=timedelta(hours=12),
        schema=[Field(name="customer_id", dtype=Int64), Field(name="val", dtype=Float64)],
        source=source,
    )
    service = FeatureService(
        name="tiny_service", features=[view.with_join_key_map({"customer_id": "referrer_id"})]
    )
    entities = pd.DataFrame(
        {
            "referrer_id": [1, 1, 1, 2, 2, 3],
            "event_timestamp": [
                t0,  # the later-created of two rows at t0: 11
                t0 + pd.Timedelta(hours=12),  # still within the TTL
                t0 + pd.Timedelta(days=1, hours=13),  # the t0+1d row, expired
                t0 - pd.Timedelta(seconds=1),  # before any row
                t0 + pd.Timedelta(hours=3),
                t0,  # unknown
            ],
            "label": range(6),
        }
    )
    entities["event_timestamp"] = entities["event_timestamp"].astype("datetime64[us, UTC]")
    frames = []
    for offline_type in ("keel.offline_store.KeelDuckDBOfflineStore", "duckdb"):
        store = _tiny_store(tmp_path, offline_type)
        store.apply([customer, view, service])
        for full_names in (False, True):
            job = store.get_historical_features(
                entity_df=entities.copy(), features=service, full_feature_names=full_names
            )
            assert isinstance(job, KeelRetrievalJob) == offline_type.startswith("keel.")
            frames.append(job.to_df().sort_values("label", ignore_index=True))
    keel_short, keel_full, stock_short, stock_full = frames
    pd.testing.assert_frame_equal(keel_short, stock_short, check_exact=True)
    pd.testing.assert_frame_equal(keel_full, stock_full, check_exact=True)
    assert keel_short["val"].fillna(-1).tolist() == [11.0, 11.0, -1, -1, 20.0, -1]
    assert "tiny__val" in keel_full.columns

"""Keel's ASOF offline store returns the same training frame as Feast's stock DuckDB store."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, RepoConfig
from feast.types import Float64, Int64
from feast.value_type import ValueType

from feature_repo.definitions import CHURN_SERVICE
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.feast_plumbing.feature_store import REPO_DIR, open_store, repo_config
from keel.feast_plumbing.features import apply_definitions
from keel.feast_plumbing.offline_store import KeelDuckDBOfflineStore, KeelRetrievalJob
from synthetic.churn_dataset import generate_dataset
from synthetic.churn_labels import SnapshotPlan, churn_snapshots
from training.dataset import (
    build_training_frame,
    feast_lineage_only_in_a_run,
    normalise_entity_frame,
    sort_rows,
)

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


def _relative_repo(root: Path, offline_type: str) -> tuple[FeatureStore, FeatureService]:
    """A repo whose source path is relative (`data/rows.parquet`), as Feast users write one."""
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    (root / "data").mkdir(exist_ok=True)
    pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "ts": [t0, t0 + pd.Timedelta(hours=6), t0, t0 + pd.Timedelta(days=2)],
            "created": [t0, t0 + pd.Timedelta(hours=6), t0, t0 + pd.Timedelta(days=2)],
            "val": [1.0, 2.0, 3.0, 4.0],
        }
    ).to_parquet(root / "data" / "rows.parquet", index=False)
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="rel",
        entities=[customer],
        ttl=timedelta(days=1),
        schema=[Field(name="customer_id", dtype=Int64), Field(name="val", dtype=Float64)],
        source=FileSource(
            name="rel_rows",
            path="data/rows.parquet",
            timestamp_field="ts",
            created_timestamp_column="created",
        ),
    )
    service = FeatureService(name="rel_service", features=[view])
    store = _tiny_store(root, offline_type)
    store.apply([customer, view, service])
    return store, service


REL_ENTITIES = pd.DataFrame(
    {
        "customer_id": [1, 1, 2, 2, 3],
        "event_timestamp": pd.to_datetime(
            [
                "2026-01-01 03:00",
                "2026-01-01 07:00",
                "2026-01-01 01:00",
                "2026-01-03 12:00",
                "2026-01-02 00:00",
            ],
            utc=True,
        ).astype("datetime64[us, UTC]"),
        "label": range(5),
    }
)


def test_relative_source_path_reads_against_the_repo_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same frame as Feast's stock store run from the repo directory (the one directory
    where its relative paths work), from another directory: the ASOF path, the stock fallback
    (`filter_by_created_timestamp`) and materialization (`pull_latest_from_table_or_query`)."""
    root = tmp_path / "repo"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(root)
    stock, service = _relative_repo(root, "duckdb")
    expected = (
        stock.get_historical_features(entity_df=REL_ENTITIES.copy(), features=service)
        .to_df()
        .sort_values("label", ignore_index=True)
    )
    assert expected["val"].fillna(-1).tolist() == [1.0, 2.0, 3.0, 4.0, -1]

    monkeypatch.chdir(elsewhere)
    keel, service = _relative_repo(root, "keel.offline_store.KeelDuckDBOfflineStore")
    job = keel.get_historical_features(entity_df=REL_ENTITIES.copy(), features=service)
    assert isinstance(job, KeelRetrievalJob)
    assert str(root / "data" / "rows.parquet") in job.to_sql()
    ours = job.to_df().sort_values("label", ignore_index=True)
    pd.testing.assert_frame_equal(ours, expected, check_exact=True)

    fallback = keel.get_historical_features(
        entity_df=REL_ENTITIES.copy(), features=service, filter_by_created_timestamp=True
    )
    assert not isinstance(fallback, KeelRetrievalJob)
    assert fallback.to_df().sort_values("label", ignore_index=True)["val"].fillna(-1).tolist() == [
        1.0,
        2.0,
        3.0,
        4.0,
        -1,
    ]

    keel.materialize(
        start_date=pd.Timestamp("2025-12-31", tz="UTC").to_pydatetime(),
        end_date=pd.Timestamp("2026-01-04", tz="UTC").to_pydatetime(),
    )
    online = keel.get_online_features(
        features=["rel:val"], entity_rows=[{"customer_id": 1}, {"customer_id": 2}]
    ).to_dict()
    assert online["val"] == [2.0, 4.0]


def test_nanosecond_entity_times_are_floored_to_microseconds(
    workspace: Settings, stores: tuple[FeatureStore, FeatureStore]
) -> None:
    """Entity times with nanoseconds (pandas' default unit) reach Feast as UTC microseconds:
    through `normalise_entity_frame`, and in Keel's store for a caller who did not normalise.
    A row 999 ns after a feature row's time sees exactly what that time sees."""
    keel, _ = stores
    activity = pd.read_parquet(
        Workspace.from_settings(workspace).features_dir / "customer_activity.parquet"
    )
    exact = activity.sort_values(KEY).iloc[[10, 500, 1500]][KEY].reset_index(drop=True)
    at = exact["event_timestamp"].astype("datetime64[ns, UTC]")
    nanos = exact.assign(event_timestamp=at + pd.Timedelta(nanoseconds=999))
    nanos["as_of_unix"] = at.astype("int64") // 10**9
    nanos["label"] = range(len(nanos))
    assert nanos["event_timestamp"].dtype == "datetime64[ns, UTC]"

    normalised = normalise_entity_frame(nanos)
    assert normalised["event_timestamp"].dtype == "datetime64[us, UTC]"
    assert (normalised["event_timestamp"] == at).all()
    pd.testing.assert_frame_equal(
        nanos.drop(columns="event_timestamp"), normalised.drop(columns="event_timestamp")
    )

    expected = _frame(keel, normalised, full_names=False)
    raw = _frame(keel, nanos, full_names=False)  # not normalised by the caller
    pd.testing.assert_frame_equal(raw, expected, check_exact=True)
    assert expected["logins_7d"].notna().all()  # the exact-time feature rows matched


def test_naive_entity_times_without_feasts_coercion_equal_those_with_it(
    workspace: Settings,
) -> None:
    """Keel's repos turn Feast's `coerce_tz_aware` off (its copy of the whole entity frame);
    Keel's store makes the times UTC itself, so a naive frame, with a second naive datetime
    column, gives exactly what it gives with Feast's coercion on."""
    keel = open_store(workspace)
    assert keel.config.coerce_tz_aware is False
    coercing_config = repo_config(workspace)
    coercing_config.coerce_tz_aware = True
    coercing = FeatureStore(repo_path=str(REPO_DIR), config=coercing_config)
    entities = churn_snapshots(Workspace.from_settings(workspace).raw_dir, SnapshotPlan())
    naive = entities.assign(
        event_timestamp=entities["event_timestamp"].dt.tz_convert(None),
        asked_at=entities["event_timestamp"].dt.tz_convert(None) + pd.Timedelta(hours=1),
    )
    ours = _frame(keel, naive, full_names=False)
    pd.testing.assert_frame_equal(ours, _frame(coercing, naive, full_names=False), check_exact=True)
    assert str(ours["asked_at"].dt.tz) == "UTC"
    assert ours["logins_7d"].notna().any()


def test_training_frame_is_the_sorted_feast_frame_and_skips_an_idle_mlflow(
    workspace: Settings,
) -> None:
    """`build_training_frame` (Arrow-side sort, no MLflow client without a run) gives exactly
    the old result: Feast's `to_df` sorted by `sort_rows`. With no run active, Feast's MLflow
    client is not built (a fresh process does not import mlflow); inside a run, Feast's
    lineage tags land on it as before."""
    store = open_store(workspace)
    service = store.get_feature_service(CHURN_SERVICE)
    entities = churn_snapshots(Workspace.from_settings(workspace).raw_dir, SnapshotPlan())
    frame = build_training_frame(store, entities, feature_service=CHURN_SERVICE).frame
    with feast_lineage_only_in_a_run(store):
        old = sort_rows(
            store.get_historical_features(
                entity_df=normalise_entity_frame(entities), features=service
            ).to_df(),
            ["customer_id"],
        )
    pd.testing.assert_frame_equal(frame, old, check_exact=True)
    assert frame["event_timestamp"].is_monotonic_increasing
    assert store.mlflow is not None  # skipped while idle, Feast's client is still there later

    probe = (
        "import sys\n"
        "from keel.feast_plumbing.feature_store import open_store\n"
        "from keel.core.settings import Settings\n"
        "from keel.core.workspace import Workspace\n"
        "from synthetic.churn_labels import SnapshotPlan, churn_snapshots\n"
        "from training.dataset import build_training_frame\n"
        f"settings = Settings(home={str(workspace.home)!r})\n"
        "entities = churn_snapshots(Workspace.from_settings(settings).raw_dir, SnapshotPlan())\n"
        f"build_training_frame(open_store(settings), entities, feature_service={CHURN_SERVICE!r})\n"
        "print('mlflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]

    in_run = open_store(workspace)
    with in_run.mlflow.start_run(run_name="lineage-probe") as run:
        build_training_frame(in_run, entities, feature_service=CHURN_SERVICE)
    tags = in_run.mlflow.client.get_run(run.info.run_id).data.tags
    assert tags["feast.feature_service"] == CHURN_SERVICE
    assert "customer_activity:logins_7d" in tags["feast.feature_refs"].split(",")

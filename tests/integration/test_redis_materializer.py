"""Keel's Redis writer stores exactly what Feast's `materialize` stores, on the real Redis.

The same Parquet (nulls, categorical strings, ints, floats, bools, timestamps, rows outside the
window, created-timestamp tie-breaks) is materialized into two Feast projects, one by
`FeatureStore.materialize` and one by `RedisMaterializer`; the raw hashes, their TTLs,
`get_online_features` and the registry's intervals must all be the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig
from feast.data_format import ParquetFormat
from feast.feature_view import FeatureViewState
from feast.types import Bool, Float32, Float64, Int32, Int64, String, UnixTimestamp
from feast.value_type import ValueType

from keel.core.backends import feast_redis_connection
from keel.feast_plumbing.feature_store import repo_config
from keel.feast_plumbing.redis_materializer import RedisMaterializer, uses_keel_writer

pytestmark = pytest.mark.integration

VIEW = "typed"
CUSTOMERS = 400
START = datetime(2025, 1, 1, tzinfo=UTC)
MID = datetime(2025, 1, 6, tzinfo=UTC)
END = datetime(2025, 1, 11, tzinfo=UTC)
FEATURES = ["plan", "logins", "rank", "spend", "ratio", "active", "last_seen"]


def _typed_parquet(path: Path) -> None:
    """Three rows per customer inside the window, one after END, some customers only outside;
    every feature column has nulls (floats also NaN); ties on event time break on created."""
    rng = np.random.default_rng(3)
    ids = np.repeat(np.arange(1, CUSTOMERS + 1), 4)
    day = np.tile([1, 4, 8, 15], CUSTOMERS)  # day 15 is after END
    event = pd.Timestamp(START) + pd.to_timedelta(day, unit="D")
    event += pd.to_timedelta(rng.integers(0, 3600, len(ids)), unit="s")
    event += pd.to_timedelta(rng.integers(0, 1000, len(ids)), unit="us")
    created = event + pd.to_timedelta(rng.integers(0, 100, len(ids)), unit="s")
    tie = (ids % 7 == 0) & (day == 8)  # a second row at the same event time, created later
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "event_timestamp": event,
            "created": created,
            "plan": rng.choice(["basic", "pro", "team", "ünïcode"], len(ids)),
            "logins": rng.integers(-(2**40), 2**40, len(ids)),
            "rank": rng.integers(-1000, 1000, len(ids)).astype("int32"),
            "spend": rng.normal(50, 30, len(ids)),
            "ratio": rng.random(len(ids)).astype("float32"),
            "active": rng.random(len(ids)) < 0.5,
            "last_seen": event - pd.to_timedelta(rng.integers(0, 10**6, len(ids)), unit="s"),
        }
    )
    frame = frame[~((frame.customer_id > CUSTOMERS - 10) & (day < 15))]  # only after END
    extra = frame[tie[frame.index]].copy()
    extra["created"] += pd.Timedelta(hours=1)
    extra["plan"] = "tie-winner"
    frame = pd.concat([frame, extra], ignore_index=True)
    frame.loc[frame.index % 13 == 0, "spend"] = np.nan  # NaN as well as nulls
    for column in ("event_timestamp", "created", "last_seen"):  # Keel's data is in microseconds
        frame[column] = frame[column].astype("datetime64[us, UTC]")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for column in FEATURES:
        values = table.column(column).to_numpy(zero_copy_only=False)
        nulls = rng.random(len(values)) < 0.1
        masked = pa.array(values, mask=nulls, type=table.schema.field(column).type)
        table = table.set_column(table.schema.get_field_index(column), column, masked)
    pq.write_table(table, path)


def _definitions(path: Path) -> list[object]:
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    source = FileSource(
        name="typed_source",
        path=str(path),
        file_format=ParquetFormat(),
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    view = FeatureView(
        name=VIEW,
        entities=[customer],
        ttl=timedelta(days=1),  # TTL does not limit what is written
        schema=[
            Field(name="plan", dtype=String),
            Field(name="logins", dtype=Int64),
            Field(name="rank", dtype=Int32),
            Field(name="spend", dtype=Float64),
            Field(name="ratio", dtype=Float32),
            Field(name="active", dtype=Bool),
            Field(name="last_seen", dtype=UnixTimestamp),
        ],
        source=source,
        online=True,
    )
    return [customer, view]


def _store(tmp_path: Path, project: str, redis_url: str) -> FeatureStore:
    config = RepoConfig(
        project=project,
        provider="local",
        registry=str(tmp_path / f"{project}.db"),
        online_store={
            "type": "redis",
            "connection_string": feast_redis_connection(redis_url),
            "key_ttl_seconds": 3600,
        },
        offline_store={"type": "keel.offline_store.KeelDuckDBOfflineStore"},
        entity_key_serialization_version=3,
    )
    config.repo_path = tmp_path
    store = FeatureStore(repo_path=str(tmp_path), config=config)
    store.apply(_definitions(tmp_path / "typed.parquet"))  # type: ignore[arg-type]
    return store


def _project_keys(client: redis.Redis, project: str) -> list[bytes]:
    return list(client.scan_iter(match=f"*{project}".encode(), count=1000))


def _hashes(client: redis.Redis, project: str) -> dict[bytes, dict[bytes, bytes]]:
    """Every hash of the project, keyed by the entity part of its key."""
    suffix = project.encode()
    return {
        key[: -len(suffix)]: client.hgetall(key)  # type: ignore[misc]
        for key in _project_keys(client, project)
    }


@pytest.fixture
def stores(tmp_path: Path, redis_url: str) -> Iterator[tuple[FeatureStore, FeatureStore]]:
    """A Feast-written and a Keel-written project over the same data; their keys removed after."""
    _typed_parquet(tmp_path / "typed.parquet")
    tag = uuid.uuid4().hex[:8]
    feast_store = _store(tmp_path, f"featmat{tag}", redis_url)
    keel_store = _store(tmp_path, f"keelmat{tag}", redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        yield feast_store, keel_store
    finally:
        for store in (feast_store, keel_store):
            keys = _project_keys(client, store.project)
            if keys:
                client.delete(*keys)


def _assert_same_redis_and_features(
    client: redis.Redis, feast_store: FeatureStore, keel_store: FeatureStore
) -> None:
    by_feast = _hashes(client, feast_store.project)
    by_keel = _hashes(client, keel_store.project)
    assert len(by_feast) == CUSTOMERS - 10
    assert by_keel.keys() == by_feast.keys()
    differing = [key for key in by_feast if by_keel[key] != by_feast[key]]
    assert not differing, f"{len(differing)} hashes differ, first {differing[0]!r}"
    ttls = {client.ttl(key) > 0 for key in _project_keys(client, keel_store.project)}
    assert ttls == {True}

    rows = [{"customer_id": i} for i in range(1, CUSTOMERS + 3)]  # incl. unknown customers
    refs = [f"{VIEW}:{name}" for name in FEATURES]
    want = feast_store.get_online_features(features=refs, entity_rows=rows).to_dict()
    got = keel_store.get_online_features(features=refs, entity_rows=rows).to_dict()
    assert got == want
    assert None in want["plan"] and "tie-winner" in want["plan"]
    assert any(isinstance(v, int) and v < 0 for v in want["logins"])


@pytest.mark.parametrize("scripted", [True, False], ids=["lua", "pipeline"])
def test_keel_writes_the_bytes_feast_writes(
    stores: tuple[FeatureStore, FeatureStore], redis_url: str, scripted: bool
) -> None:
    feast_store, keel_store = stores
    feast_store.materialize(start_date=START, end_date=END, feature_views=[VIEW])
    (result,) = RedisMaterializer(keel_store, chunk_rows=64, scripted=scripted).materialize(
        [VIEW], start=START, end=END
    )
    assert (result.rows, result.written, result.skipped) == (CUSTOMERS - 10, CUSTOMERS - 10, 0)
    _assert_same_redis_and_features(redis.Redis.from_url(redis_url), feast_store, keel_store)

    feast_view = feast_store.registry.get_feature_view(VIEW, feast_store.project)
    keel_view = keel_store.registry.get_feature_view(VIEW, keel_store.project)
    assert keel_view.materialization_intervals == feast_view.materialization_intervals
    assert keel_view.state == feast_view.state == FeatureViewState.AVAILABLE_ONLINE


@pytest.mark.parametrize("scripted", [True, False], ids=["lua", "pipeline"])
def test_older_rows_never_overwrite_newer_ones(
    stores: tuple[FeatureStore, FeatureStore], redis_url: str, scripted: bool
) -> None:
    feast_store, keel_store = stores
    materializer = RedisMaterializer(keel_store, chunk_rows=100, scripted=scripted)
    feast_store.materialize(start_date=START, end_date=END, feature_views=[VIEW])
    materializer.materialize([VIEW], start=START, end=END)
    (same,) = materializer.materialize([VIEW], start=START, end=END)
    assert same.written == 0 and same.skipped == same.rows > 0  # equal instants are skipped too
    feast_store.materialize(start_date=START, end_date=MID, feature_views=[VIEW])
    (older,) = materializer.materialize([VIEW], start=START, end=MID)
    assert older.rows > 0
    assert older.written == 0 and older.skipped == older.rows
    _assert_same_redis_and_features(redis.Redis.from_url(redis_url), feast_store, keel_store)

    # A stored `_ts` newer than the data keeps its hash even against the newest rows; an equal
    # one is skipped too, and every other key is rewritten.
    client = redis.Redis.from_url(redis_url)
    key = sorted(_project_keys(client, keel_store.project))[0]
    future = b"\x08" + bytes([0x80, 0x80, 0x80, 0x80, 0x08])  # Timestamp(seconds=2**31)
    client.hset(key, f"_ts:{VIEW}", future)
    before = client.hgetall(key)
    (again,) = materializer.materialize([VIEW], start=START, end=END + timedelta(days=30))
    assert client.hgetall(key) == before
    assert again.written == again.rows - 1


def test_keel_writer_serves_redis_fed_by_the_local_engine_only(
    make_settings: object,
) -> None:
    production = make_settings(  # type: ignore[operator]
        profile="production",
        redis_url="redis://127.0.0.1:6379/0",
        postgres_url="postgresql://postgres@127.0.0.1:5432/test",
    )
    assert uses_keel_writer(repo_config(production))
    assert not uses_keel_writer(repo_config(make_settings()))  # type: ignore[operator]
    redis_by_spark = RepoConfig(
        project="p",
        provider="local",
        registry="/nonexistent/registry.db",
        online_store={"type": "redis", "connection_string": "127.0.0.1:6379"},
        batch_engine={"type": "spark.engine"},
        entity_key_serialization_version=3,
    )
    assert not uses_keel_writer(redis_by_spark)

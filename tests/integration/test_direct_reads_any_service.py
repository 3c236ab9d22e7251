"""Direct reads of any feature service equal Feast's own `get_online_features`.

The delivery example (string keys, a composite-key view, a list feature, an on-demand view over
request fields): the session's (`conftest.delivery`: applied with Feast's CLI, materialized by
Feast into SQLite, read here only) and a copy materialized into a real Redis; both of its
services read directly and through Feast, on mixed batches, one entity at a time, with unknown
couriers, zones and pairs.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis
from conftest import require_service
from feast import FeatureStore

from keel.core.errors import InvalidInput
from serving.direct_features import DirectFeatures, DirectRedisFeatures, DirectSqliteFeatures
from tests.delivery_workspace import DeliveryWorkspace
from tests.integration.feast_reference import feast_apply, feast_rows, use_redis

pytestmark = pytest.mark.integration

SERVICES = ("delivery_eta_v1", "late_risk_v1")
AS_OF = 1_773_900_000
DATA_START = datetime(2026, 3, 1, tzinfo=UTC)


def materialized(repo: Path) -> FeatureStore:
    store = FeatureStore(repo_path=str(repo))
    store.materialize(start_date=DATA_START, end_date=datetime.now(UTC))
    return store


@pytest.fixture(scope="module")
def applied(delivery: DeliveryWorkspace) -> Path:
    """The session's delivery example, already materialized into its SQLite online store."""
    return delivery.root


@pytest.fixture(scope="module")
def sqlite_store(applied: Path) -> FeatureStore:
    return FeatureStore(repo_path=str(applied / "feature_repo"))


@pytest.fixture(scope="module")
def redis_store(
    applied: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FeatureStore, redis.Redis]]:
    """The same repo and data with a Redis online store (a project of its own), materialized."""
    url = os.environ.get("KEEL_REDIS_URL", "redis://127.0.0.1:6379/0")
    require_service(url, "Redis")
    repo = tmp_path_factory.mktemp("delivery-redis") / "feature_repo"
    shutil.copytree(applied / "feature_repo", repo, ignore=shutil.ignore_patterns("*.db"))
    use_redis(repo, url)
    feast_apply(repo)
    store = materialized(repo)
    client = redis.Redis.from_url(url)
    try:
        yield store, client
    finally:
        store.teardown()
        client.close()


def open_direct(kind: str, service: str, request: pytest.FixtureRequest) -> DirectFeatures:
    if kind == "sqlite":
        return DirectSqliteFeatures(request.getfixturevalue("sqlite_store"), service)
    store, client = request.getfixturevalue("redis_store")
    return DirectRedisFeatures(store, service, client)


def store_of(direct: DirectFeatures, request: pytest.FixtureRequest) -> FeatureStore:
    if isinstance(direct, DirectRedisFeatures):
        store: FeatureStore = request.getfixturevalue("redis_store")[0]
        return store
    sqlite: FeatureStore = request.getfixturevalue("sqlite_store")
    return sqlite


def order(courier: str, zone: str, rng: random.Random) -> dict[str, Any]:
    return {
        "courier_id": courier,
        "zone_id": zone,
        "distance_km": round(rng.uniform(0.3, 12.0), 2),
        "order_hour": rng.randrange(24),
    }


def mixed_batch(applied: Path) -> list[dict[str, Any]]:
    """Known pairs (composite key found), known courier and zone without a pair, unknown
    couriers with known zones and the reverse, wholly unknown orders, and repeats."""
    rng = random.Random(5)
    pairs = pd.read_parquet(applied / "feature_repo" / "data" / "courier_zone_weekly.parquet")
    known = sorted({(str(c), str(z)) for c, z in zip(pairs.courier_id, pairs.zone_id, strict=True)})
    couriers = sorted({c for c, _ in known})
    zones = sorted({z for _, z in known})
    batch = [order(c, z, rng) for c, z in rng.sample(known, 25)]
    batch += [order(c, z, rng) for c in couriers[:10] for z in zones[:2] if (c, z) not in known]
    batch += [order("c-9999", zones[0], rng), order(couriers[0], "z-99", rng)]
    batch += [order("nobody", "nowhere", rng), order("", "", rng)]
    batch += [dict(batch[0]), dict(batch[-3])]
    rng.shuffle(batch)
    return batch


@pytest.fixture(scope="module")
def batch(applied: Path) -> list[dict[str, Any]]:
    return mixed_batch(applied)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_mixed_batch_equals_feast(
    kind: str, service: str, batch: list[dict[str, Any]], request: pytest.FixtureRequest
) -> None:
    direct = open_direct(kind, service, request)
    expected = feast_rows(store_of(direct, request), service, batch)
    assert direct.get_rows(batch) == expected
    unknown = sum(row is None for row in expected)
    assert 0 < unknown < len(batch) - 20  # the batch really mixes known and unknown orders
    if service == "delivery_eta_v1":
        found = [row for row in expected if row is not None]
        assert any(row["deliveries_in_zone_28d"] is not None for row in found)
        assert any(row["deliveries_in_zone_28d"] is None for row in found)
        assert any(isinstance(row["recent_zones"], list) for row in found)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_one_order_at_a_time_equals_feast(
    kind: str, batch: list[dict[str, Any]], request: pytest.FixtureRequest
) -> None:
    direct = open_direct(kind, "delivery_eta_v1", request)
    store = store_of(direct, request)
    for entity in batch[:12]:
        assert direct.get_rows([entity]) == feast_rows(store, "delivery_eta_v1", [entity])


def test_request_fields_are_converted_as_feast_converts_them(
    batch: list[dict[str, Any]], request: pytest.FixtureRequest
) -> None:
    """Feast infers a request field's type from its first value (an int here, so 3.5 becomes 3)."""
    direct = open_direct("sqlite", "late_risk_v1", request)
    entities = [{**batch[0], "distance_km": 3}, {**batch[1], "distance_km": 3.5}]
    entities += [{**batch[2], "distance_km": 2.5, "order_hour": 12.0}]
    store = store_of(direct, request)
    assert direct.get_rows(entities) == feast_rows(store, "late_risk_v1", entities)


def test_the_service_declares_its_keys_and_request_fields(request: pytest.FixtureRequest) -> None:
    direct = open_direct("sqlite", "delivery_eta_v1", request)
    assert direct.service == "delivery_eta_v1"
    assert direct.join_keys == ["courier_id", "zone_id"]
    assert direct.request_fields == ["distance_km", "order_hour"]
    assert "recent_zones" in direct.stored_features
    assert "distance_x_traffic" not in direct.stored_features


def test_missing_inputs_are_refused_by_name(
    batch: list[dict[str, Any]], request: pytest.FixtureRequest
) -> None:
    direct = open_direct("sqlite", "delivery_eta_v1", request)
    without_hour = {k: v for k, v in batch[0].items() if k != "order_hour"}
    with pytest.raises(InvalidInput, match="entity 1: request field 'order_hour' is missing"):
        direct.get_rows([batch[0], without_hour])
    with pytest.raises(InvalidInput, match="join key 'zone_id' is missing"):
        direct.get_rows([{**batch[0], "zone_id": None}])
    assert direct.get_rows([]) == []

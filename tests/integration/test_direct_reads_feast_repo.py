"""Direct reads of a Feast repo unlike the examples equal Feast's `get_online_features`:
int64 and int32 join keys (one composite view), a python-mode on-demand view over request
fields (`as_of_unix` among them) that reads a join key, a pandas-mode view over two batch views,
Bool and list features (`tests/integration/shop_repo`)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis
from conftest import require_service
from feast import FeatureStore

from keel.core.errors import InvalidInput
from serving.direct_features import DirectFeatures, DirectRedisFeatures, DirectSqliteFeatures
from tests.integration.feast_reference import feast_apply, feast_rows, use_redis

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent / "shop_repo"
AS_OF = 1_773_900_000


def write_data(data: Path, when: datetime) -> None:
    data.mkdir(parents=True, exist_ok=True)
    ids = range(1, 21)
    pd.DataFrame(
        {
            "customer_id": np.arange(1, 21, dtype="int64"),
            "event_timestamp": when,
            "spend": [None if i % 7 == 0 else float(i * 10) for i in ids],
            "orders": np.arange(1, 21, dtype="int64"),
            "tier": ["gold" if i % 3 else "basic" for i in ids],
            "vip": [i % 4 == 0 for i in ids],
            "tags": [["a", "b"][: i % 3] for i in ids],
        }
    ).to_parquet(data / "customers.parquet")
    pd.DataFrame(
        {
            "shop_id": np.arange(1, 6, dtype="int32"),
            "event_timestamp": when,
            "busy": [0.5, 1.0, 1.5, 2.0, 2.5],
        }
    ).to_parquet(data / "shops.parquet")
    pd.DataFrame(
        {
            "customer_id": np.array([1, 1, 2, 3, 5], dtype="int64"),
            "shop_id": np.array([1, 2, 1, 3, 5], dtype="int32"),
            "event_timestamp": when,
            "visits": [3, 1, 4, 1, 5],
        }
    ).to_parquet(data / "visits.parquet")


def applied_repo(root: Path, redis_url: str | None = None) -> FeatureStore:
    """The shop repo copied to `root` (on Redis when given a URL), applied, materialized."""
    repo = root / "repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns("__pycache__", "data"))
    now = datetime.now(UTC)
    write_data(repo / "data", now - timedelta(days=1))
    if redis_url is not None:
        use_redis(repo, redis_url)
    feast_apply(repo)
    feature_store = FeatureStore(repo_path=str(repo))
    feature_store.materialize(start_date=now - timedelta(days=3), end_date=now)
    return feature_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    return applied_repo(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def redis_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeatureStore]:
    url = os.environ.get("KEEL_REDIS_URL", "redis://127.0.0.1:6379/0")
    require_service(url, "Redis")
    feature_store = applied_repo(tmp_path_factory.mktemp("shop-redis"), url)
    try:
        yield feature_store
    finally:
        feature_store.teardown()


def open_direct(kind: str, service: str, request: pytest.FixtureRequest) -> DirectFeatures:
    if kind == "sqlite":
        return DirectSqliteFeatures(request.getfixturevalue("store"), service)
    url = os.environ.get("KEEL_REDIS_URL", "redis://127.0.0.1:6379/0")
    return DirectRedisFeatures(request.getfixturevalue("redis_store"), service, redis.from_url(url))


def checkout(customer: int, shop: int, coupon: str, basket: Any = 20.0) -> dict[str, Any]:
    return {"customer_id": customer, "shop_id": shop, "basket": basket, "coupon": coupon}


BATCH = [
    checkout(1, 1, "X"),  # every view found
    checkout(2, 1, ""),
    checkout(7, 3, "Y"),  # a customer without spend, a pair without visits
    checkout(3, 3, "", 12.5),
    checkout(99, 1, "Z"),  # an unknown customer at a known shop
    checkout(1, 99, ""),  # a known customer at an unknown shop
    checkout(99, 99, ""),  # wholly unknown
    checkout(20, 5, "W"),
    checkout(1, 1, "X"),  # a repeat
]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_int_keys_python_and_pandas_views_equal_feast(
    kind: str, request: pytest.FixtureRequest
) -> None:
    direct = open_direct(kind, "shop_v1", request)
    store = request.getfixturevalue("store" if kind == "sqlite" else "redis_store")
    assert direct.join_keys == ["customer_id", "shop_id"]
    assert direct.request_fields == ["as_of_unix", "basket", "coupon"]
    entities = [dict(row, as_of_unix=AS_OF) for row in BATCH]
    expected = feast_rows(store, "shop_v1", entities)
    assert direct.get_rows(entities) == expected
    assert expected[6] is None and expected[4] is not None and expected[5] is not None
    assert expected[0] is not None and expected[0]["tags"] == ["a"]
    for entity in entities[:7]:
        assert direct.get_rows([entity]) == feast_rows(store, "shop_v1", [entity])


def test_a_missing_as_of_unix_is_the_calls_as_of(store: FeatureStore) -> None:
    direct = DirectSqliteFeatures(store, "shop_v1")
    expected = feast_rows(store, "shop_v1", [dict(row, as_of_unix=AS_OF) for row in BATCH])
    assert direct.get_rows(BATCH, as_of_unix=AS_OF) == expected
    mixed = [BATCH[0], dict(BATCH[1], as_of_unix=AS_OF + 7200)]
    first, second = direct.get_rows(mixed, as_of_unix=AS_OF)
    assert first is not None and second is not None
    assert first["hours_left"] - second["hours_left"] == 2
    (now,) = direct.get_rows([BATCH[0]])
    assert now is not None
    assert abs(now["hours_left"] - (1_800_000_000 - int(time.time())) // 3600) <= 1


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_single_key_service_without_request_fields_reads_as_feast_does(
    kind: str, request: pytest.FixtureRequest
) -> None:
    direct = open_direct(kind, "spend_only_v1", request)
    store = request.getfixturevalue("store" if kind == "sqlite" else "redis_store")
    assert direct.join_keys == ["customer_id"] and direct.request_fields == []
    customers = [1, 7, 99, 14, 2]
    entities = [{"customer_id": c} for c in customers]
    expected = feast_rows(store, "spend_only_v1", entities)
    assert direct.get_rows(entities) == expected
    assert expected[2] is None and expected[1] == {"spend": None, "tags": ["a"]}


def test_a_request_field_other_than_as_of_unix_is_required(store: FeatureStore) -> None:
    direct = DirectSqliteFeatures(store, "shop_v1")
    without_coupon = {k: v for k, v in BATCH[0].items() if k != "coupon"}
    with pytest.raises(InvalidInput, match="request field 'coupon' is missing"):
        direct.get_rows([without_coupon])

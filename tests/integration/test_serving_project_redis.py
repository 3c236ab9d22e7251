"""A keel.yaml project whose Feast repo names its own Redis (`connection_string`) is read from
that Redis by serving's direct reads, whatever `KEEL_REDIS_URL` says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from feast import FeatureStore

from keel.core.project import load_project
from keel.core.settings import Settings
from keel.feast_plumbing.project_checks import open_store
from serving.direct_features import DirectRedisFeatures
from serving.online_features import FeastOnlineFeatures
from serving.runtime import feature_source, repo_redis_url
from tests.delivery_workspace import (
    DeliveryWorkspace,
    columns,
    copy_delivery,
    use_redis_online_store,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def repo_on_redis(
    delivery: DeliveryWorkspace, redis_url: str, tmp_path: Path
) -> Iterator[FeatureStore]:
    """A copy of the delivery repo whose online store is the test's Redis database (db N of
    KEEL_REDIS_URL), materialized there; its keys removed afterwards."""
    parts = urlsplit(redis_url)
    connection = f"{parts.hostname}:{parts.port or 6379},db={parts.path.lstrip('/') or 0}"
    copy = copy_delivery(delivery, tmp_path / "delivery")
    use_redis_online_store(copy, connection)
    store = open_store(load_project(copy.config))
    try:
        yield store
    finally:
        store.teardown()


def test_direct_reads_use_the_repos_redis_not_keel_redis_url(
    repo_on_redis: FeatureStore, delivery: DeliveryWorkspace, redis_url: str
) -> None:
    parts = urlsplit(redis_url)
    own_db = int(parts.path.lstrip("/") or 0)
    other = f"redis://{parts.hostname}:{parts.port or 6379}/{(own_db + 1) % 16}"
    settings = Settings(redis_url=other)  # holds none of the repo's features
    assert repo_redis_url(repo_on_redis) == f"redis://{parts.hostname}:{parts.port}/{own_db}"
    direct = feature_source(repo_on_redis, "delivery_eta_v1", settings)
    assert isinstance(direct, DirectRedisFeatures)
    order = {name: values[0] for name, values in columns(delivery.orders.iloc[:1]).items()}
    rows = [order, {**order, "courier_id": "nobody"}]
    expected = FeastOnlineFeatures(repo_on_redis, "delivery_eta_v1").get_rows(rows)
    known, unknown_courier = expected
    assert known is not None and known["rating"] is not None  # read from db N
    assert unknown_courier is not None and unknown_courier["rating"] is None  # its zone is known
    assert direct.get_rows(rows) == expected
    # The repo's row_twins.py twin computed that view (proven equal at start, equal here).
    assert direct.on_demand_paths == {"order_features": "row twin"}


def test_a_redis_cluster_repo_is_read_through_feasts_own_client(
    repo_on_redis: FeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Direct reads speak to one Redis: a cluster (or sentinel) is left to Feast."""
    config = repo_on_redis.config.online_store
    monkeypatch.setattr(config, "redis_type", type(config.redis_type)("redis_cluster"))
    assert repo_redis_url(repo_on_redis) is None
    source = feature_source(repo_on_redis, "delivery_eta_v1", Settings())
    assert isinstance(source, FeastOnlineFeatures)

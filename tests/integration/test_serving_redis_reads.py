"""Direct reads of Feast's Redis online store equal `get_online_features` (production profile)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis

from keel.cli.demo_journey import UNKNOWN_CUSTOMER, DemoResult, sample_customers
from keel.core.settings import Settings
from keel.feast_plumbing.feature_store import open_store
from keel.feast_plumbing.features import apply_definitions, materialize
from serving.direct_features import DirectRedisFeatures
from serving.online_features import FeastOnlineFeatures
from serving.runtime import feature_source

pytestmark = pytest.mark.integration


@pytest.fixture
def production(journey: DemoResult, redis_url: str, postgres_url: str) -> Iterator[Settings]:
    """The journey's data applied and materialized into Redis with a fresh SQL registry."""
    name = f"keel_serving_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_url.rpartition("/")
    settings = Settings(
        home=journey.settings.home,
        profile="production",
        project=f"keelsrv{uuid.uuid4().hex[:8]}",
        redis_url=redis_url,
        postgres_url=f"{base}/{name}",
        api_tokens="t" * 16 + "=predict",
    )
    try:
        apply_definitions(settings)
        materialize(settings)
        yield settings
    finally:
        open_store(settings).teardown()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_direct_redis_reads_equal_feast_get_online_features(production: Settings) -> None:
    store = open_store(production)
    direct = feature_source(store, production.feature_service, production)
    assert isinstance(direct, DirectRedisFeatures)
    customers = [*sample_customers(production, 40), UNKNOWN_CUSTOMER]
    as_of = int(time.time())
    entities = [{"customer_id": c} for c in customers]
    expected = FeastOnlineFeatures(store, production.feature_service).get_rows(
        entities, as_of_unix=as_of
    )
    assert direct.get_rows(entities, as_of_unix=as_of) == expected
    assert expected[-1] is None and all(row is not None for row in expected[:-1])
    assert redis.Redis.from_url(production.redis_url).ping()

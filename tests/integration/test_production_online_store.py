"""The production profile (Redis online store, Feast SQL registry on PostgreSQL) serves the
same feature values as the local profile, against the real servers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis

from keel.cli.demo_journey import DemoResult, sample_customers
from keel.core.settings import Settings
from keel.feast_plumbing.feature_store import open_store
from keel.feast_plumbing.features import apply_definitions, materialize
from serving.online_features import FeastOnlineFeatures

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A new PostgreSQL database for this test, dropped afterwards."""
    name = f"keel_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_redis_serves_the_same_features_as_sqlite(
    journey: DemoResult, redis_url: str, fresh_database: str
) -> None:
    local = journey.settings
    project = f"keeltest{uuid.uuid4().hex[:8]}"  # Feast prefixes Redis keys with the project
    production = Settings(
        home=local.home,
        profile="production",
        project=project,
        redis_url=redis_url,
        postgres_url=fresh_database,
    )
    apply_definitions(production)
    materialize(production)
    prod_store = open_store(production)
    try:
        assert prod_store.config.online_store.type == "redis"
        assert prod_store.config.registry.registry_type == "sql"
        keys = redis.Redis.from_url(redis_url).keys(f"*{project}*")
        assert keys, "nothing was materialized into Redis"

        from_redis = FeastOnlineFeatures(prod_store, production.feature_service)
        from_sqlite = FeastOnlineFeatures(open_store(local), local.feature_service)
        as_of = int(time.time())
        entities = [{"customer_id": c} for c in sample_customers(local, 50)]
        expected = from_sqlite.get_rows(entities, as_of_unix=as_of)
        assert all(row is not None for row in expected)
        assert from_redis.get_rows(entities, as_of_unix=as_of) == expected
    finally:
        prod_store.teardown()

"""The `spark` profile (Feast's Spark offline store and compute engine on `local[2]`) gives the
same training set as the local DuckDB profile, row for row, and materializes the same online
values (into Redis, with the SQL registry on PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import redis
from feast import FeatureStore, FileSource
from feast.infra.compute_engines.spark.compute import SparkComputeEngine
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

from keel.cli.demo_journey import sample_customers
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.feast_plumbing.feature_store import open_store, repo_config, repo_definitions
from keel.feast_plumbing.features import apply_definitions, materialize
from serving.online_features import FeastOnlineFeatures
from synthetic.churn_dataset import generate_dataset
from synthetic.churn_labels import SnapshotPlan, churn_snapshots
from tests.conftest import require_service, skip_or_fail
from training.dataset import build_training_frame

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The spark .* experimental feature:RuntimeWarning"),
]

KEY = ["customer_id", "event_timestamp"]
END = datetime(2026, 1, 2, tzinfo=UTC)
PLAN = SnapshotPlan(step_days=5)  # 300 customers x 90 days: 7 snapshots, ~2,000 rows
# A short-lived test JVM: C1 JIT only and no whole-stage code generation halve Spark's CPU
# time for a query planned once (same plans and results; not for a long-running cluster).
TEST_SPARK_CONF = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "spark.sql.codegen.wholeStage": "false",
}


@dataclass(frozen=True)
class Profiles:
    local: Settings
    spark: Settings


@pytest.fixture(scope="module")
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database for the module's Feast SQL registry, dropped afterwards."""
    url = os.environ.get("KEEL_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    require_service(url.replace("postgresql", "tcp", 1), "PostgreSQL")
    name = f"keel_spark_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory, fresh_database: str) -> Iterator[Profiles]:
    """One small workspace, applied and materialized (SQLite) under `local`, applied under
    `spark`; the module's one SparkSession (its JVM start is much of the cost) stops at the end."""
    if shutil.which("java") is None:
        skip_or_fail("the spark profile needs Java (java is not on PATH)")
    redis_url = os.environ.get("KEEL_REDIS_URL", "redis://127.0.0.1:6379/0")
    require_service(redis_url, "Redis")

    home = tmp_path_factory.mktemp("spark-profile") / "ws"
    local = Settings(home=home)
    generate_dataset(local, customers=300, days=90, seed=11, end=date(2026, 1, 1))
    apply_definitions(local)
    materialize(local, end=END)
    spark = Settings(
        home=home,
        profile="spark",
        project=f"keelspark{uuid.uuid4().hex[:8]}",  # Feast prefixes Redis keys with it
        redis_url=redis_url,
        postgres_url=fresh_database,
        spark_conf=TEST_SPARK_CONF,
    )
    apply_definitions(spark)
    store = open_store(spark)
    try:
        yield Profiles(local=local, spark=spark)
    finally:
        store.teardown()
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()


def _training_frame(settings: Settings) -> pd.DataFrame:
    entities = churn_snapshots(Workspace.from_settings(settings).raw_dir, PLAN)
    frame = build_training_frame(
        open_store(settings), entities, feature_service=settings.feature_service
    ).frame
    return frame.sort_values(KEY, kind="stable").reset_index(drop=True)


def test_spark_profile_reads_spark_sources_through_spark(profiles: Profiles) -> None:
    store = open_store(profiles.spark)
    assert store.config.offline_store.type == "spark"
    assert store.config.batch_engine_config["type"] == "spark.engine"
    for conf in (
        store.config.offline_store.spark_conf,
        store.config.batch_engine_config["spark_conf"],
    ):
        assert conf["spark.master"] == "local[2]"
        assert conf["spark.sql.codegen.wholeStage"] == "false"  # KEEL_SPARK_CONF laid over
    for view in store.list_feature_views():
        assert isinstance(view.batch_source, SparkSource), view.name
        assert view.batch_source.path.startswith(
            str(Workspace.from_settings(profiles.spark).features_dir)
        )
    local_views = open_store(profiles.local).list_feature_views()
    assert {type(view.batch_source) for view in local_views} == {FileSource}
    assert sorted(v.name for v in local_views) == sorted(v.name for v in store.list_feature_views())


def test_spark_training_set_equals_duckdb_row_for_row(profiles: Profiles) -> None:
    duck = _training_frame(profiles.local)
    spark = _training_frame(profiles.spark)
    assert len(duck) > 1500 and duck["logins_7d"].nunique() > 20
    assert str(duck["event_timestamp"].dtype) == "datetime64[us, UTC]"
    assert list(spark.columns) == list(duck.columns)
    assert spark.dtypes.astype(str).to_dict() == duck.dtypes.astype(str).to_dict()
    pd.testing.assert_frame_equal(spark, duck, check_exact=True)


def _spark_jobs_run() -> int:
    """Jobs the process's SparkSession has run (0 before there is one)."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    return 0 if session is None else len(session.sparkContext.statusTracker().getJobIdsForGroup())


def test_spark_engine_materializes_the_same_online_values(profiles: Profiles) -> None:
    spark_store: FeatureStore = open_store(profiles.spark)
    assert isinstance(spark_store._get_provider().batch_engine, SparkComputeEngine)
    jobs_before = _spark_jobs_run()
    views = materialize(profiles.spark, end=END)  # `keel features materialize`
    assert sorted(views) == ["customer_activity", "customer_profile", "customer_support"]
    assert _spark_jobs_run() > jobs_before, "materialization did not run on Spark"
    keys = redis.Redis.from_url(profiles.spark.redis_url).keys(f"*{profiles.spark.project}*")
    assert len(keys) == 300, "one Redis hash per customer, as the local engine writes"

    from_spark = FeastOnlineFeatures(spark_store, profiles.spark.feature_service)
    from_local = FeastOnlineFeatures(open_store(profiles.local), profiles.local.feature_service)
    as_of = int(time.time())
    customers = sample_customers(profiles.local, 40)
    assert len(customers) == 40
    entities = [{"customer_id": c} for c in customers]
    local_rows = from_local.get_rows(entities, as_of_unix=as_of)
    spark_rows = from_spark.get_rows(entities, as_of_unix=as_of)
    for customer, features, local in zip(customers, spark_rows, local_rows, strict=True):
        assert features is not None, customer
        assert features["logins_30d"] is not None and features["plan"] is not None, customer
        assert features == local, customer


def test_spark_profile_points_at_a_cluster_by_settings_alone(tmp_path: Path) -> None:
    """No Spark needed: the KEEL_SPARK_* settings land in both blocks and in the sources."""
    settings = Settings(
        home=tmp_path / "ws",
        profile="spark",
        spark_master="spark://spark-master:7077",
        spark_features_uri="s3a://keel-data/features/",
        spark_staging="s3a://keel-data/staging",
        spark_conf={"spark.executor.memory": "8g", "spark.sql.shuffle.partitions": "256"},
    )
    config = repo_config(settings)
    engine = config.batch_engine_config
    assert config.offline_store.staging_location == engine["staging_location"]
    assert engine["staging_location"] == "s3a://keel-data/staging"
    for conf in (config.offline_store.spark_conf, engine["spark_conf"]):
        assert conf["spark.master"] == "spark://spark-master:7077"
        assert conf["spark.executor.memory"] == "8g"
        assert conf["spark.sql.shuffle.partitions"] == "256"  # the setting wins over the YAML
        assert conf["spark.sql.session.timeZone"] == "UTC"  # the YAML's own stay
    paths = sorted(view.batch_source.path for view in repo_definitions(settings).feature_views)
    assert paths == [
        "s3a://keel-data/features/customer_activity.parquet",
        "s3a://keel-data/features/customer_profile.parquet",
        "s3a://keel-data/features/customer_support.parquet",
    ]
    default_staging = repo_config(Settings(home=tmp_path / "ws", profile="spark")).offline_store
    assert default_staging.staging_location == str(tmp_path / "ws" / "spark-staging")

"""Opening Feast for a workspace: `feature_repo/` YAML + Keel settings -> `FeatureStore`."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from string import Template

import yaml
from feast import FeatureService, FeatureStore, RepoConfig

import feature_repo
from feature_repo.definitions import Definitions, build
from keel.backends import feast_redis_connection, mlflow_tracking_uri, sqlalchemy_postgres_url
from keel.errors import WorkspaceNotReady
from keel.service_checks import check_postgres
from keel.settings import Settings
from keel.workspace import Workspace

REPO_DIR = Path(feature_repo.__file__).resolve().parent
CONFIG_FILES = {
    "local": REPO_DIR / "feature_store.yaml",
    "production": REPO_DIR / "feature_store.production.yaml",
    "spark": REPO_DIR / "feature_store.spark.yaml",
}


def spark_staging(settings: Settings) -> str:
    """Where the Spark profile stages its outputs: the setting, else inside the workspace."""
    return settings.spark_staging or str(Workspace.from_settings(settings).spark_staging_dir)


def spark_features_uri(settings: Settings) -> str:
    """The feature tables' directory as Spark's executors read it."""
    return settings.spark_features_uri or str(Workspace.from_settings(settings).features_dir)


def repo_definitions(settings: Settings) -> Definitions:
    """The repo's Feast objects for the profile: `SparkSource`s under `spark`, else files."""
    features_dir = Workspace.from_settings(settings).features_dir
    if settings.profile == "spark":
        return build(features_dir, spark_uri=spark_features_uri(settings))
    return build(features_dir)


def repo_config(settings: Settings, *, online_timeout: float | None = None) -> RepoConfig:
    """The profile's `feature_store.yaml` with Keel's placeholders filled from the settings;
    `online_timeout` bounds each call of Feast's Redis client (serving sets it; materialization
    keeps redis-py's unbounded default, its pipelines may legitimately take long)."""
    workspace = Workspace.from_settings(settings)
    values = {
        "KEEL_PROJECT": settings.project,
        "KEEL_FEAST_DIR": str(workspace.feast_dir),
        "KEEL_MLFLOW_TRACKING_URI": mlflow_tracking_uri(settings),
        "KEEL_REDIS_CONNECTION": feast_redis_connection(settings.redis_url, timeout=online_timeout),
        "KEEL_REGISTRY_URL": sqlalchemy_postgres_url(settings.postgres_url),
        "KEEL_SPARK_MASTER": settings.spark_master,
        "KEEL_SPARK_STAGING": spark_staging(settings),
    }
    text = Template(CONFIG_FILES[settings.profile].read_text()).substitute(values)
    raw = yaml.safe_load(text)
    if settings.profile == "spark":
        for block in ("offline_store", "batch_engine"):
            raw[block]["spark_conf"] = {**raw[block]["spark_conf"], **settings.spark_conf}
    config = RepoConfig(**raw)
    config.repo_path = REPO_DIR
    return config


def prepare_spark(settings: Settings) -> None:
    """Check the `spark` profile's extra and choose the executors' Python.

    PySpark starts its Python workers with `PYSPARK_PYTHON` (default `python3` on PATH, not this
    virtualenv, so Feast would be missing there); an explicit environment value is kept.
    """
    if importlib.util.find_spec("pyspark") is None:
        raise WorkspaceNotReady(
            "KEEL_PROFILE=spark needs pyspark (and Java 17+): pip install 'keel[spark]'"
        )
    os.environ.setdefault("PYSPARK_PYTHON", settings.spark_python or sys.executable)


def open_store(settings: Settings, *, online_timeout: float | None = None) -> FeatureStore:
    """A `FeatureStore` on the workspace (see `repo_config` for `online_timeout`); creates the
    workspace directories if needed."""
    if settings.profile == "spark":
        prepare_spark(settings)
    Workspace.from_settings(settings).ensure()
    config = repo_config(settings, online_timeout=online_timeout)
    if str(config.registry.path).startswith("postgresql"):  # else Feast's traceback, later
        check_postgres(config.registry.path, role="Feast's registry database")
    return FeatureStore(repo_path=str(REPO_DIR), config=config)


def require_feature_service(store: FeatureStore, name: str) -> FeatureService:
    """The feature service `name`, or `WorkspaceNotReady` saying to run `keel features apply`."""
    from feast.errors import FeatureServiceNotFoundException

    try:
        return store.get_feature_service(name)
    except FeatureServiceNotFoundException:
        raise WorkspaceNotReady(
            f"feature service {name!r} is not in Feast's registry of project "
            f"{store.project!r}: run `keel features apply` (and `keel features materialize`)"
        ) from None

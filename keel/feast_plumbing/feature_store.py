"""Opening Feast for a workspace: `feature_repo/` YAML + Keel settings -> `FeatureStore`.

The YAML files name their settings as environment variables (`${KEEL_FEAST_DIR}`, ...) that
Feast expands itself: Keel reads them with the same expansion over `feast_environment`, and
Feast's own CLI reads them with that environment exported (`keel features env`).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml
from feast import FeatureService, FeatureStore, RepoConfig

import feature_repo
from feature_repo.definitions import Definitions, build
from keel.core.backends import feast_redis_connection, mlflow_tracking_uri, sqlalchemy_postgres_url
from keel.core.errors import WorkspaceNotReady
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.ops.service_checks import check_postgres

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


def feast_environment(settings: Settings, *, online_timeout: float | None = None) -> dict[str, str]:
    """The environment variables the profile's `feature_store.yaml` and the repo's module read (and,
    for `spark`, PySpark's `PYSPARK_PYTHON`).

    Feast expands `${NAME}` in feature_store.yaml from the environment itself, so with these
    exported Feast's own CLI opens the repo (`keel features env` prints them). Keel's settings
    keep their names (`KEEL_HOME` made absolute); values derived from them have names no setting
    uses (`KEEL_FEAST_*`, `KEEL_REGISTRY_URL`, `KEEL_REDIS_CONNECTION`), so exporting them
    never overrides a setting. `online_timeout`: see `repo_config`.
    """
    workspace = Workspace.from_settings(settings)
    values = {
        "KEEL_HOME": str(settings.home),
        "KEEL_PROFILE": settings.profile,
        "KEEL_PROJECT": settings.project,
        "KEEL_FEAST_DIR": str(workspace.feast_dir),
        "KEEL_FEAST_MLFLOW_URI": mlflow_tracking_uri(settings),
    }
    if settings.profile != "local":
        values["KEEL_REDIS_CONNECTION"] = feast_redis_connection(
            settings.redis_url, timeout=online_timeout
        )
        values["KEEL_REGISTRY_URL"] = sqlalchemy_postgres_url(settings.postgres_url)
    if settings.profile == "spark":
        values["KEEL_SPARK_MASTER"] = settings.spark_master
        values["KEEL_FEAST_SPARK_STAGING"] = spark_staging(settings)
        if settings.spark_features_uri:  # else derived from KEEL_HOME, as here
            values["KEEL_SPARK_FEATURES_URI"] = settings.spark_features_uri
        # The executors' Python, as `prepare_spark` chooses it for Keel's own process.
        values["PYSPARK_PYTHON"] = os.environ.get(
            "PYSPARK_PYTHON", settings.spark_python or sys.executable
        )
    return values


_VARIABLE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)
"""A `$NAME` or `${NAME}` reference, as `os.path.expandvars` (Feast's expansion) finds them."""


def expand_variables(text: str, values: Mapping[str, str]) -> str:
    """`text` with `$NAME`/`${NAME}` replaced from `values`, unknown names left as they are:
    `os.path.expandvars` (what Feast's `load_repo_config` runs) over a given mapping instead of
    the process environment, which Keel never changes."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).removeprefix("{").removesuffix("}")
        return values.get(name, match.group(0))

    return _VARIABLE.sub(value, text)


def repo_config(settings: Settings, *, online_timeout: float | None = None) -> RepoConfig:
    """The profile's `feature_store.yaml` as Feast reads it with `feast_environment` exported
    (over the process environment); `online_timeout` bounds each call of Feast's Redis client
    (serving sets it; materialization keeps redis-py's unbounded default, its pipelines may
    legitimately take long)."""
    values = {**os.environ, **feast_environment(settings, online_timeout=online_timeout)}
    raw = yaml.safe_load(expand_variables(CONFIG_FILES[settings.profile].read_text(), values))
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

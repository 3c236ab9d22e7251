"""Opening Feast for a workspace: `feature_repo/` YAML + Keel settings -> `FeatureStore`."""

from __future__ import annotations

from pathlib import Path
from string import Template

import yaml
from feast import FeatureStore, RepoConfig

import feature_repo
from keel.backends import feast_redis_connection, mlflow_tracking_uri, sqlalchemy_postgres_url
from keel.settings import Settings
from keel.workspace import Workspace

REPO_DIR = Path(feature_repo.__file__).resolve().parent
CONFIG_FILES = {
    "local": REPO_DIR / "feature_store.yaml",
    "production": REPO_DIR / "feature_store.production.yaml",
}


def repo_config(settings: Settings) -> RepoConfig:
    """The profile's `feature_store.yaml` with Keel's placeholders filled from the settings."""
    workspace = Workspace.from_settings(settings)
    values = {
        "KEEL_PROJECT": settings.project,
        "KEEL_FEAST_DIR": str(workspace.feast_dir),
        "KEEL_MLFLOW_TRACKING_URI": mlflow_tracking_uri(settings),
        "KEEL_REDIS_CONNECTION": feast_redis_connection(settings.redis_url),
        "KEEL_REGISTRY_URL": sqlalchemy_postgres_url(settings.postgres_url),
    }
    text = Template(CONFIG_FILES[settings.profile].read_text()).substitute(values)
    config = RepoConfig(**yaml.safe_load(text))
    config.repo_path = REPO_DIR
    return config


def open_store(settings: Settings) -> FeatureStore:
    """A `FeatureStore` on the workspace; creates the workspace directories if needed."""
    Workspace.from_settings(settings).ensure()
    return FeatureStore(repo_path=str(REPO_DIR), config=repo_config(settings))

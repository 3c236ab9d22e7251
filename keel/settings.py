"""Keel's one settings model: `KEEL_` environment variables over safe local defaults.

Lookup order: explicit keyword argument, then `KEEL_*` environment variable, then the default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Profile = Literal["local", "production"]


class Settings(BaseSettings):
    """Where Keel keeps its state and which backends it talks to."""

    model_config = SettingsConfigDict(env_prefix="KEEL_", extra="forbid")

    home: Path = Path(".keel")
    """Workspace directory holding every generated file; relative paths resolve against the
    current directory once, when settings are created, so later code never depends on it."""

    profile: Profile = "local"
    """`local`: DuckDB + SQLite + file registry + MLflow on SQLite.
    `production`: Redis online store, Feast SQL registry and MLflow on PostgreSQL."""

    project: str = "keel"
    """Feast project name (also the prefix of the MLflow experiment)."""

    model_name: str = "churn"
    feature_service: str = "churn_v1"

    redis_url: str = "redis://127.0.0.1:6379/0"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    mlflow_tracking_uri: str | None = None
    """Overrides the profile's MLflow backend (for example an `http://` tracking server)."""

    require_services: bool = False
    """Set in CI: tests that need Redis or PostgreSQL fail instead of skipping."""

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("project")
    @classmethod
    def _valid_project(cls, value: str) -> str:
        if not value.replace("_", "").isalnum():
            raise ValueError(f"project must be letters, digits and underscores, got {value!r}")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

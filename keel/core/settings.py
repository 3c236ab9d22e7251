"""Keel's one settings model: `KEEL_` environment variables over safe local defaults.

Lookup order: explicit keyword argument, then `KEEL_*` environment variable, then the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from feature_repo import example

Profile = Literal["local", "production", "spark"]


@dataclass(frozen=True)
class KeyedRoute:
    """A model's short prediction route (`POST /v1/predict`): one entity by its one join key, an
    integer id (`{key: 5}`), or a batch of ids in a plural field (`{batch_field: [...]}`); the
    answer names the score `score_field`. Serving builds the route's bodies from these names."""

    model: str
    """The registered model it answers."""
    key: str
    batch_field: str
    score_field: str
    noun: str = "entity"
    """What one entity is called in messages (`unknown <noun>`)."""


class Settings(BaseSettings):
    """Where Keel keeps its state and which backends it talks to."""

    model_config = SettingsConfigDict(env_prefix="KEEL_", extra="forbid")

    home: Path = Path(".keel")
    """Workspace directory holding every generated file; relative paths resolve against the
    current directory once, when settings are created, so later code never depends on it."""

    profile: Profile = "local"
    """`local`: DuckDB + SQLite + file registry + MLflow on SQLite.
    `production`: Redis online store, Feast SQL registry and MLflow on PostgreSQL.
    `spark`: production's online store and registry, Spark offline store and compute engine."""

    project: str = "keel"
    """Feast project name (also the prefix of the MLflow experiment)."""

    model_name: str = example.MODEL_NAME
    feature_service: str = example.FEATURE_SERVICE
    """The built-in example's model and feature service (`feature_repo.example`) unless set."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    mlflow_tracking_uri: str | None = None
    """Overrides the profile's MLflow backend (for example an `http://` tracking server)."""
    mlflow_backend_store_uri: str | None = None
    """The database behind an `http(s)://` tracking server (the server's own
    `--backend-store-uri`): audited alias moves write the alias and its history row there in one
    transaction. Unset with a tracking server: alias moves are refused."""

    actor: str | None = None
    """Who moves model aliases (`KEEL_ACTOR`), recorded in alias history; default the OS user."""

    spark_master: str = "local[2]"
    """`spark` profile: Spark's master (`local[2]`, `spark://host:7077`, `yarn`, `k8s://...`)."""

    spark_staging: str | None = None
    """`spark` profile: staging directory for Spark's outputs (`s3a://bucket/prefix` on a
    cluster); default `<KEEL_HOME>/spark-staging`."""

    spark_features_uri: str | None = None
    """`spark` profile: the directory URI holding the feature tables as every executor sees it
    (`s3a://bucket/keel/features`); default the workspace's local feature directory."""

    spark_python: str | None = None
    """`spark` profile: the Python (with Keel and Feast installed) that Spark's executors run;
    default this interpreter (right for `local[N]`; a cluster names its image's Python)."""

    spark_conf: dict[str, str] = Field(default_factory=dict)
    """`spark` profile: Spark properties laid over the YAML's, in both the offline store and the
    engine (`KEEL_SPARK_CONF='{"spark.executor.memory": "8g"}'`)."""

    require_services: bool = False
    """Set in CI: tests that need Redis or PostgreSQL fail instead of skipping."""

    # Serving (`keel serve`): see serving/__init__.py.
    api_tokens: str = ""
    """Bearer tokens and their scopes, `token=scope+scope,...` with scopes `predict`, `feedback`,
    `admin` (`KEEL_API_TOKENS`). Empty: no auth (local only; production refuses to serve)."""

    reload_interval: float = Field(default=10.0, gt=0)
    """Seconds between checks of where the `champion`/`challenger` aliases point."""

    challenger_share: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of entities (sticky by a hash of the entity key) served by `challenger`."""

    shadow: bool = False
    """Also score champion-served entities with `challenger` and log it, unreturned."""

    max_batch: int = Field(default=1000, ge=1, le=10_000)
    """Most entities one prediction request may hold."""

    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """Largest request body the API accepts."""

    direct_online_reads: bool = True
    """Read Feast's online store in Feast's own key format instead of through `FeatureStore`."""

    online_timeout: float = Field(default=0.5, gt=0, le=30)
    """Seconds the server waits to connect to or hear from the Redis online store
    (`KEEL_ONLINE_TIMEOUT`); beyond it the request answers 503 instead of hanging."""

    registry_timeout: float = Field(default=3.0, gt=0, le=60)
    """Seconds the server waits for the MLflow registry when it checks the aliases
    (`KEEL_REGISTRY_TIMEOUT`); unreachable at start, it serves its cached champion."""

    workers: int = Field(default=1, ge=1, le=64)
    """Worker processes of `keel serve`."""

    @property
    def keyed_route(self) -> KeyedRoute:
        """`model_name`'s short route, in the built-in example's names (`feature_repo.example`);
        served only without a keel.yaml."""
        return KeyedRoute(
            model=self.model_name,
            key=example.ENTITY_KEY,
            batch_field=example.BATCH_FIELD,
            score_field=example.SCORE_COLUMN,
            noun=example.ENTITY_NOUN,
        )

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

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keel.core.backends import (
    feast_redis_connection,
    mlflow_tracking_uri,
    redact_url,
    sqlalchemy_postgres_url,
)
from keel.core.settings import Settings
from keel.feast_plumbing.feature_store import repo_config


def test_relative_home_is_resolved_once_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(home=Path("ws"))
    monkeypatch.chdir("/")
    assert settings.home == tmp_path / "ws"
    assert settings.home.is_absolute()


def test_settings_read_keel_prefixed_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("KEEL_PROFILE", "production")
    settings = Settings()
    assert settings.home == tmp_path / "elsewhere"
    assert settings.profile == "production"


def test_unknown_profile_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="profile"):
        Settings(profile="staging")  # type: ignore[arg-type]


def test_local_profile_puts_every_store_inside_the_workspace(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    config = repo_config(settings)
    assert config.registry.path == str(tmp_path / "feast" / "registry.db")
    assert config.online_store.path == str(tmp_path / "feast" / "online_store.db")
    assert config.offline_store.type == "keel.offline_store.KeelDuckDBOfflineStore"
    assert mlflow_tracking_uri(settings) == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    assert config.mlflow.tracking_uri == mlflow_tracking_uri(settings)


def test_production_profile_uses_redis_and_postgres(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        profile="production",
        redis_url="redis://:s3cret@cache:6380/4",
        postgres_url="postgresql://keel:pw@db:5432/keel",
    )
    config = repo_config(settings)
    assert config.online_store.type == "redis"
    assert config.online_store.connection_string == "cache:6380,db=4,password=s3cret"
    assert config.registry.registry_type == "sql"
    assert config.registry.path == "postgresql+psycopg://keel:pw@db:5432/keel"
    assert mlflow_tracking_uri(settings) == "postgresql+psycopg://keel:pw@db:5432/keel"


def test_redis_url_becomes_feast_connection_string() -> None:
    assert feast_redis_connection("redis://127.0.0.1:6379/0") == "127.0.0.1:6379,db=0"
    assert feast_redis_connection("redis://localhost") == "localhost:6379,db=0"
    assert feast_redis_connection("redis://h:1/2", timeout=0.5) == (
        "h:1,db=2,socket_timeout=0.5,socket_connect_timeout=0.5,retry=null"
    )
    with pytest.raises(ValueError, match="redis://"):
        feast_redis_connection("http://localhost:6379")


def test_postgres_url_gets_the_psycopg3_driver() -> None:
    assert sqlalchemy_postgres_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ValueError, match="postgresql://"):
        sqlalchemy_postgres_url("mysql://u:secret@h/db")


def test_redacted_url_hides_the_password_only() -> None:
    assert redact_url("postgresql://keel:hunter2@db:5432/x") == "postgresql://keel:***@db:5432/x"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    with pytest.raises(ValueError) as error:
        sqlalchemy_postgres_url("mysql://u:hunter2@h/db")
    assert "hunter2" not in str(error.value)

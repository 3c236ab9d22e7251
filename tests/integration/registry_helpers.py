"""Helpers shared by the registry tests: a throw-away PostgreSQL database per test module, and
registered versions made in milliseconds (placeholder sources: alias moves never load a model)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from conftest import require_service

from keel.core.settings import Settings
from registry.client import ensure_experiment, mlflow_client
from registry.database import database_engine

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def registry_settings(backend: str, home: Path) -> Iterator[Settings]:
    """Settings whose MLflow backend is SQLite in `home`, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield Settings(home=home, actor="tester")
        return
    admin_url = os.environ.get("KEEL_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    require_service(admin_url.replace("postgresql", "tcp", 1), "PostgreSQL")
    name = f"keel_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield Settings(
            home=home, profile="production", postgres_url=f"{base}/{name}", actor="tester"
        )
    finally:
        database_engine.cache_clear()  # drop Keel's pooled connections to the database
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def register_versions(settings: Settings, gates: list[str]) -> str:
    """A new registered model with one version per gate decision (`passed`/`failed`).

    Each version has its own run with `test_*` metrics; returns the model's (unique) name.
    """
    client = mlflow_client(settings)
    experiment_id = ensure_experiment(settings, client)
    name = f"churn_{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    for number, gate in enumerate(gates, start=1):
        run = client.create_run(experiment_id, tags={"keel.code_commit": "abc123"})
        client.log_metric(run.info.run_id, "test_pr_auc", 0.1 * number)
        client.log_metric(run.info.run_id, "test_roc_auc", 0.6 + 0.01 * number)
        client.set_terminated(run.info.run_id)
        client.create_model_version(
            name,
            source=str(settings.home / "placeholder" / str(number)),
            run_id=run.info.run_id,
            tags={"keel.gate": gate, "keel.gate_reason": f"{gate} on purpose"},
        )
    return name

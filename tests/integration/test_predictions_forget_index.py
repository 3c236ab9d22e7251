"""`keel predictions forget --entity K=V` without `--model` finds the entity's records by exact
entity keys per logged model, searching the (model_name, entity_key) index instead of scanning
the log (PostgreSQL: an index on the predictions table; SQLite: the index table filled between
commits, then the records past its mark), and erases every model's records of that entity
only."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from keel.cli.common import console
from keel.cli.main import app
from keel.core.settings import Settings, get_settings
from keel.core.workspace import Workspace
from serving.log_columns import ENTITY_KEY_INDEX
from serving.log_entity_index import EntityIndex
from serving.log_erasure import Erasure, candidate_keys, erasure_filter, logged_models
from serving.prediction_log import open_prediction_log
from tests.integration.test_predictions_gdpr import delivery_record

pytestmark = pytest.mark.integration
runner = CliRunner()
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MODELS = ("eta_minutes", "no_show", "zone_eta")


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """A local workspace, or the production profile on a fresh PostgreSQL database, as the
    CLI's settings."""
    home = tmp_path / "keel-home"
    database = None
    if request.param == "sqlite":
        chosen = Settings(home=home)
    else:
        admin_url = request.getfixturevalue("postgres_url")  # conftest's: skips or fails
        database = f"keel_forget_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        url = f"{admin_url.rpartition('/')[0]}/{database}"
        chosen = Settings(home=home, profile="production", postgres_url=url)
    monkeypatch.setenv("KEEL_HOME", str(home))
    monkeypatch.setenv("KEEL_PROFILE", chosen.profile)
    monkeypatch.setenv("KEEL_POSTGRES_URL", chosen.postgres_url)
    monkeypatch.setattr(console, "width", 400)
    get_settings.cache_clear()
    try:
        yield chosen
    finally:
        get_settings.cache_clear()
        if database is not None:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextmanager
def database(settings: Settings) -> Iterator[Any]:
    """A DB-API connection to the settings' log database, apart from the log's own."""
    if settings.profile == "production":
        with psycopg.connect(settings.postgres_url, autocommit=True) as db:
            yield db
        return
    db = sqlite3.connect(Workspace.from_settings(settings).prediction_log)
    try:
        yield db
    finally:
        db.close()


def models_of(db: Any, table: str) -> list[str]:
    """The log's model names as an erasure without `--model` finds them."""
    if isinstance(db, sqlite3.Connection):
        index = EntityIndex(table)
        return logged_models(db.cursor(), table, index, index.mark(db.cursor()))
    return logged_models(db.cursor(), table)


def plan(db: Any, table: str, erasure: Erasure) -> str:
    """The database's plan for selecting the erasure's predictions, as text."""
    if isinstance(db, sqlite3.Connection):
        index = EntityIndex(table)
        through = index.mark(db.cursor())
        models = logged_models(db.cursor(), table, index, through)
        where, params = index.erasure_filter(models, erasure.keys, through)
        select = f"SELECT prediction_id FROM {table} WHERE {where}"
        return "\n".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {select}", params))
    found = erasure_filter(db.cursor(), erasure, predictions_table=table)
    assert found is not None
    where, params = found
    select = f"SELECT prediction_id FROM {table} WHERE {where}"
    # A handful of rows: make PostgreSQL show the index path it would take on a large log.
    db.execute("SET enable_seqscan = off")
    rows = db.execute(f"EXPLAIN {select.replace('?', '%s')}", params).fetchall()
    return "\n".join(row[0] for row in rows)


def test_forget_without_model_searches_the_index_per_model_and_erases_every_models_records(
    settings: Settings,
) -> None:
    """Two models keyed by the same join key name (driver_id), a third by a composite key that
    includes it: the driver's records of the first two go, everything else stays."""
    driver, other = {"driver_id": 1001}, {"driver_id": 1002}
    composite = {"driver_id": 1001, "zone_id": "z-1"}
    gone = [delivery_record(model, driver) for model in ("eta_minutes", "no_show") for _ in "ab"]
    kept = [
        delivery_record("eta_minutes", other),
        delivery_record("no_show", other),
        delivery_record("zone_eta", composite),
    ]
    log = open_prediction_log(settings)
    try:
        log.append([*gone, *kept])
        table = log.predictions_table
    finally:
        log.close()
    erasure = Erasure(tuple(candidate_keys({"driver_id": "1001"})), None, "dpo", NOW)
    with database(settings) as db:
        assert models_of(db, table) == list(MODELS)
        shown = plan(db, table, erasure)
    searched = [  # SQLite: SEARCH ... (model_name=? AND entity_key=?); PostgreSQL: Index Cond
        line for line in shown.splitlines() if "SEARCH" in line or "Index Cond" in line
    ]
    if settings.profile == "production":
        assert f"{table}_{ENTITY_KEY_INDEX}" in shown, shown
    else:  # the index table, then the records past its mark by rowid
        assert f"SEARCH {table}_entities USING PRIMARY KEY" in shown, shown
        assert f"SEARCH {table} USING INTEGER PRIMARY KEY (rowid>?)" in shown, shown
    assert any("model_name" in line and "entity_key" in line for line in searched), shown
    assert "SCAN" not in shown and "Seq Scan" not in shown and "Filter" not in shown, shown

    result = runner.invoke(app, ["predictions", "forget", "--entity", "driver_id=1001"])
    assert result.exit_code == 0, result.output
    assert "erased 4 predictions and 0 feedback records" in result.output

    log = open_prediction_log(settings)
    try:
        assert [log.get(r.prediction_id) for r in gone] == [None] * 4
        assert [log.get(r.prediction_id) for r in kept] == kept
    finally:
        log.close()

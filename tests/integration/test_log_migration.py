"""A prediction log of the churn-only layout (customer_id, churn_probability, NOT NULL label,
integer outcomes) is converted in place when opened, on SQLite and on a real PostgreSQL: every
prediction, feedback and audit row survives, and opening it again changes nothing."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from keel.core.errors import WorkspaceNotReady
from serving.log_erasure import audit_ddl
from serving.log_postgres import PostgresPredictionLog
from serving.log_sqlite import SqlitePredictionLog
from serving.prediction_log import Feedback, PredictionLog, PredictionRecord, to_micros

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC)
NOW_MICROS = to_micros(NOW)

# The layout before the log was generic, copied verbatim from serving/prediction_log.py at
# 0bd59e3 (`violations` was itself added to a first layout: OLD_WITHOUT_VIOLATIONS).
OLD_PREDICTIONS = """CREATE TABLE IF NOT EXISTS {predictions} (
            prediction_id TEXT PRIMARY KEY,
            created_at {bigint} NOT NULL,
            customer_id {bigint} NOT NULL,
            churn_probability {real} NOT NULL,
            label {bigint} NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            model_alias TEXT,
            run_id TEXT NOT NULL,
            code_commit TEXT NOT NULL,
            request_id TEXT,
            served_by TEXT NOT NULL,
            features TEXT NOT NULL,
            violations TEXT
        )"""
OLD_WITHOUT_VIOLATIONS = OLD_PREDICTIONS.replace(",\n            violations TEXT", "")
OLD_FEEDBACK = """CREATE TABLE IF NOT EXISTS {feedback} (
            prediction_id TEXT PRIMARY KEY REFERENCES {predictions} (prediction_id),
            outcome {bigint} NOT NULL,
            observed_at {bigint} NOT NULL,
            received_at {bigint} NOT NULL
        )"""
OLD_COLUMNS = (
    "prediction_id, created_at, customer_id, churn_probability, label, model_name, "
    "model_version, model_alias, run_id, code_commit, request_id, served_by, features"
)
# prediction_id, customer, probability, label, alias, request, served_by, features, violations
OLD_ROWS = [
    ("01OLD1", 17, 0.75, 1, "champion", "r-1", "champion", '{"plan": "basic"}', "plan"),
    ("01OLD2", 17, 0.5, 1, "challenger", None, "shadow", '{"plan": "basic"}', None),
    ("01OLD3", 18, 0.125, 0, "champion", "r-3", "champion", '{"plan": "pro", "n": 2}', ""),
]
OLD_FEEDBACK_ROWS = [("01OLD1", 1), ("01OLD3", 0)]
AUDIT_ROW = ("01AUDIT", NOW_MICROS, "erase_customer", "dpo", 4, 1)


def expected(with_violations: bool) -> list[PredictionRecord]:
    return [
        PredictionRecord(
            prediction_id=pid,
            created_at=NOW,
            model_name="churn",
            model_version="3",
            model_alias=alias,
            run_id="run",
            code_commit="abc",
            request_id=request,
            served_by=served_by,  # type: ignore[arg-type]
            entity={"customer_id": customer},
            task="binary",
            score=probability,
            label=label,
            features=json.loads(features),
            violations=(
                None
                if not with_violations or violations is None
                else [v for v in violations.split(",") if v]
            ),
        )
        for pid, customer, probability, label, alias, request, served_by, features, violations in (
            OLD_ROWS
        )
    ]


def fill_old(
    execute: Callable[[str, tuple[Any, ...]], Any],
    names: dict[str, str],
    *,
    mark: str,
    with_violations: bool,
) -> None:
    """The old tables with three predictions, two feedback rows and an audit row."""
    ddl = OLD_PREDICTIONS if with_violations else OLD_WITHOUT_VIOLATIONS
    execute(ddl.format(**names), ())
    execute(OLD_FEEDBACK.format(**names), ())
    execute(audit_ddl(names["audit"], bigint=names["bigint"]), ())
    columns = OLD_COLUMNS + (", violations" if with_violations else "")
    count = len(columns.split(", "))
    marks = ", ".join(mark for _ in range(count))
    for pid, customer, probability, label, alias, request, served_by, features, flags in OLD_ROWS:
        values: tuple[Any, ...] = (
            pid,
            NOW_MICROS,
            customer,
            probability,
            label,
            "churn",
            "3",
            alias,
            "run",
            "abc",
            request,
            served_by,
            features,
        )
        execute(
            f"INSERT INTO {names['predictions']} ({columns}) VALUES ({marks})",
            (*values, flags) if with_violations else values,
        )
    for pid, outcome in OLD_FEEDBACK_ROWS:
        execute(
            f"INSERT INTO {names['feedback']} VALUES ({mark}, {mark}, {mark}, {mark})",
            (pid, outcome, NOW_MICROS, NOW_MICROS),
        )
    execute(f"INSERT INTO {names['audit']} VALUES ({', '.join([mark] * 6)})", AUDIT_ROW)


def dump(log: PredictionLog) -> list[tuple[Any, ...]]:
    """Every row of the three tables, for comparing two opens."""
    rows: list[tuple[Any, ...]] = []
    for table in (log.predictions_table, log.feedback_table, log.audit_table):
        rows += sorted(tuple(row) for row in log.query(f"SELECT * FROM {table}"))
    return rows


def check_converted(log: PredictionLog, *, with_violations: bool) -> None:
    records = expected(with_violations)
    assert log.count() == len(records)
    assert [log.get(r.prediction_id) for r in records] == records
    held = log.feedback("01OLD1")
    assert held == Feedback("01OLD1", 1, NOW) and type(held.outcome) is int  # type: ignore[union-attr]
    assert log.feedback("01OLD3") == Feedback("01OLD3", 0, NOW)
    assert log.feedback("01OLD2") is None
    (event,) = log.audit_events()
    assert (event.audit_id, event.action, event.actor, event.predictions) == (
        "01AUDIT",
        "erase_customer",
        "dpo",
        4,
    )
    # The converted log takes what the old one could not: regression rows, decimal outcomes.
    regression = PredictionRecord(
        prediction_id="01NEW",
        created_at=NOW,
        model_name="delivery_minutes",
        model_version="1",
        model_alias="champion",
        run_id="run2",
        code_commit="abc",
        request_id=None,
        served_by="champion",
        entity={"courier_id": "c-7", "zone_id": "z-1"},
        task="regression",
        score=31.5,
        label=None,
        features={"distance_km": 4.2},
    )
    log.append([regression])
    assert log.record_feedback_now(Feedback("01NEW", 28.25, NOW)).status == "recorded"
    assert log.feedback("01NEW") == Feedback("01NEW", 28.25, NOW)
    assert log.get("01NEW") == regression
    erased = log.forget_entity({"customer_id": 17}, actor="tester")
    assert (erased.predictions, erased.feedback) == (2, 1)
    assert log.get("01OLD3") == records[2]


@pytest.mark.parametrize("with_violations", [True, False])
def test_a_sqlite_log_of_the_old_layout_is_converted_once_without_losing_a_row(
    tmp_path: Path, with_violations: bool
) -> None:
    path = tmp_path / "predictions.db"
    names = {
        "predictions": "predictions",
        "feedback": "prediction_feedback",
        "audit": "audit",
        "real": "REAL",
        "bigint": "INTEGER",
    }
    with sqlite3.connect(path) as db:
        fill_old(db.execute, names, mark="?", with_violations=with_violations)
    db.close()

    log = SqlitePredictionLog(path)
    first = dump(log)
    log.close()
    log = SqlitePredictionLog(path)  # a second open is a no-op
    assert dump(log) == first
    with sqlite3.connect(path) as db:
        schema = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
    db.close()
    assert "outcome REAL NOT NULL" in schema["prediction_feedback"]
    assert "customer_id" not in schema["predictions"]
    assert "predictions_entities" in schema  # the entity index (log_entity_index)
    assert "predictions_model_entity" not in schema
    assert not any(name.endswith("_migrating") for name in schema)
    try:
        check_converted(log, with_violations=with_violations)
    finally:
        log.close()


def test_a_sqlite_log_of_an_unknown_layout_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE predictions (prediction_id TEXT PRIMARY KEY, score REAL)")
        db.execute("INSERT INTO predictions VALUES ('01X', 0.5)")
    db.close()
    with pytest.raises(WorkspaceNotReady, match="older layout"):
        SqlitePredictionLog(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT * FROM predictions").fetchall() == [("01X", 0.5)]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert tables == {"predictions", "sqlite_autoindex_predictions_1"}  # not even the feedback


@pytest.fixture
def prefix(postgres_url: str) -> Iterator[str]:
    name = f"m{uuid.uuid4().hex[:10]}_"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(
            f"DROP TABLE IF EXISTS {name}prediction_feedback, {name}predictions, {name}audit"
        )


def test_a_postgres_log_of_the_old_layout_is_converted_once_without_losing_a_row(
    postgres_url: str, prefix: str
) -> None:
    names = {
        "predictions": f"{prefix}predictions",
        "feedback": f"{prefix}prediction_feedback",
        "audit": f"{prefix}audit",
        "real": "DOUBLE PRECISION",
        "bigint": "BIGINT",
    }
    with psycopg.connect(postgres_url) as db:
        fill_old(db.execute, names, mark="%s", with_violations=True)  # type: ignore[arg-type]

    log = PostgresPredictionLog(postgres_url, table_prefix=prefix)
    first = dump(log)
    log.close()
    log = PostgresPredictionLog(postgres_url, table_prefix=prefix)
    try:
        assert dump(log) == first
        types = dict(
            log.query(
                "SELECT table_name || '.' || column_name, data_type "
                "FROM information_schema.columns WHERE table_name IN (%s, %s)",
                (names["predictions"], names["feedback"]),
            )
        )
        assert types[f"{names['feedback']}.outcome"] == "double precision"
        assert f"{names['predictions']}.customer_id" not in types
        assert types[f"{names['predictions']}.score"] == "double precision"
        (index,) = log.query(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{prefix}predictions_model_entity",)
        )
        assert index[0]
        check_converted(log, with_violations=True)
    finally:
        log.close()

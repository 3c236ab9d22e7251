"""Converting a prediction log of the churn-only layout to the generic one, in place.

The old layout keyed predictions by `customer_id` (int) with `churn_probability` and a NOT NULL
`label`, and held integer feedback outcomes. The conversion runs in the caller's transaction
(all or nothing) when a log is opened: `entity_key` = `{"customer_id":<id>}`, `score` =
`churn_probability`, `task` = 'binary'; feedback outcomes become floating point (regression
outcomes are numbers). A log already in the new layout is left alone, so opening twice is a no-op.
"""

from __future__ import annotations

import logging
from typing import Any

from serving.log_columns import FEEDBACK_COLUMNS, PREDICTION_NAMES, select_list, table_ddl

logger = logging.getLogger(__name__)

OLD_KEY = "customer_id"
RENAMED = {"score": "churn_probability"}
"""New column -> the old column it is copied from (others: the same name)."""


def _old_expressions(old_columns: set[str]) -> dict[str, str]:
    """For each new prediction column, the SQL expression over an old-layout row."""
    derived = {
        "entity_key": f"""'{{"{OLD_KEY}":' || CAST({OLD_KEY} AS TEXT) || '}}'""",
        "task": "'binary'",
        **RENAMED,
    }
    return {
        name: derived.get(name, name if name in old_columns else "NULL")
        for name in PREDICTION_NAMES
    }


def is_old_layout(columns: set[str]) -> bool:
    return OLD_KEY in columns and "entity_key" not in columns


def migrate_sqlite(cursor: Any, predictions: str, feedback: str) -> bool:
    """Rebuild old-layout tables in the new layout (SQLite cannot change a column's type or
    nullability in place): copy into new tables, drop the old ones, rename. True if migrated."""
    columns = {row[1] for row in cursor.execute(f"PRAGMA table_info({predictions})")}
    if not is_old_layout(columns):
        return False
    staged_predictions, staged_feedback = f"{predictions}_migrating", f"{feedback}_migrating"
    predictions_ddl = table_ddl(staged_predictions, feedback, "sqlite")[0]
    feedback_ddl = table_ddl(predictions, staged_feedback, "sqlite")[1]
    expressions = _old_expressions(columns)
    cursor.execute(predictions_ddl)
    cursor.execute(
        f"INSERT INTO {staged_predictions} ({', '.join(expressions)}) "
        f"SELECT {', '.join(expressions.values())} FROM {predictions}"
    )
    cursor.execute(feedback_ddl)
    feedback_names = select_list(FEEDBACK_COLUMNS)
    cursor.execute(
        f"INSERT INTO {staged_feedback} ({feedback_names}) "
        f"SELECT prediction_id, CAST(outcome AS REAL), observed_at, received_at FROM {feedback}"
    )
    _check_copied(cursor, predictions, staged_predictions)
    _check_copied(cursor, feedback, staged_feedback)
    cursor.execute(f"DROP TABLE {feedback}")
    cursor.execute(f"DROP TABLE {predictions}")
    cursor.execute(f"ALTER TABLE {staged_predictions} RENAME TO {predictions}")
    cursor.execute(f"ALTER TABLE {staged_feedback} RENAME TO {feedback}")
    logger.info("prediction log %s converted to the generic layout", predictions)
    return True


def _check_copied(cursor: Any, source: str, copy: str) -> None:
    counts = [cursor.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in (source, copy)]
    if counts[0] != counts[1]:  # cannot happen with INSERT ... SELECT; never lose rows silently
        raise RuntimeError(f"migrating {source}: copied {counts[1]} of {counts[0]} rows")


def postgres_columns(cursor: Any, table: str) -> dict[str, str]:
    """Column name -> data type of `table` in the current schema (empty when absent)."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table.lower(),),
    )
    return {str(name): str(kind) for name, kind in cursor.fetchall()}


def _postgres_outdated(cursor: Any, predictions: str, feedback: str) -> tuple[bool, bool]:
    """(predictions in the old layout, feedback outcomes not yet floating point)."""
    old = is_old_layout(set(postgres_columns(cursor, predictions)))
    outcome = postgres_columns(cursor, feedback).get("outcome")
    return old, outcome is not None and outcome != "double precision"


def migrate_postgres(cursor: Any, predictions: str, feedback: str) -> bool:
    """Alter old-layout tables in place (PostgreSQL DDL is transactional). The tables are
    locked and checked again first, so two servers starting together convert once. True if
    migrated."""
    if not any(_postgres_outdated(cursor, predictions, feedback)):
        return False
    cursor.execute(f"LOCK TABLE {predictions}, {feedback} IN ACCESS EXCLUSIVE MODE")
    old, integer_outcomes = _postgres_outdated(cursor, predictions, feedback)
    if old:
        key = f"""'{{"{OLD_KEY}":' || {OLD_KEY}::text || '}}'"""
        for statement in (
            f"ALTER TABLE {predictions} ADD COLUMN IF NOT EXISTS violations TEXT",
            f"ALTER TABLE {predictions} ADD COLUMN entity_key TEXT, ADD COLUMN task TEXT",
            f"UPDATE {predictions} SET entity_key = {key}, task = 'binary'",
            f"ALTER TABLE {predictions} ALTER COLUMN entity_key SET NOT NULL, "
            "ALTER COLUMN task SET NOT NULL, ALTER COLUMN label DROP NOT NULL",
            f"ALTER TABLE {predictions} RENAME COLUMN churn_probability TO score",
            f"ALTER TABLE {predictions} DROP COLUMN {OLD_KEY}",
        ):
            cursor.execute(statement)
    if integer_outcomes:
        cursor.execute(f"ALTER TABLE {feedback} ALTER COLUMN outcome TYPE DOUBLE PRECISION")
    if old or integer_outcomes:
        logger.info("prediction log %s converted to the generic layout", predictions)
    return old or integer_outcomes

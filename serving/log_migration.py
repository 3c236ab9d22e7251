"""Converting a prediction log of the layout before the log was generic, in place.

Keel wrote that layout for the built-in example alone: in place of `entity_key`, `task` and
`score` it had one integer column named after the entity's one join key and one floating-point
column named after the score, a NOT NULL `label`, and integer feedback outcomes. The columns are
recognised by those types (`old_layout`), so no name of the example is spelled here. The
conversion runs in the caller's transaction (all or nothing) when a log is opened:
`entity_key` = `{"<key>":<id>}`, `score` = the old score, `task` = 'binary'; feedback outcomes
become floating point (regression outcomes are numbers). A log already in the new layout is left
alone, so opening twice is a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serving.log_columns import FEEDBACK_COLUMNS, PREDICTION_NAMES, select_list, table_ddl

logger = logging.getLogger(__name__)

INTEGER_TYPES = ("integer", "bigint", "int", "int8")
FLOAT_TYPES = ("real", "double precision", "double", "float", "float8")
"""Column types (lower case) as SQLite's `PRAGMA table_info` and PostgreSQL report them."""


@dataclass(frozen=True)
class OldLayout:
    """The columns of an old-layout predictions table that the generic layout derives from."""

    key: str
    """The entity's one join key (integer): becomes `entity_key`."""
    score: str
    """The score (floating point): becomes `score`."""


def old_layout(columns: Mapping[str, str]) -> OldLayout | None:
    """The old layout's key and score columns, given a predictions table's column -> type; None
    for any other table (the generic layout, or no table): exactly one integer and one floating
    point column beside the generic layout's names, and no `entity_key`."""
    if "entity_key" in columns:
        return None
    extra = {name: kind.lower() for name, kind in columns.items() if name not in PREDICTION_NAMES}
    keys = [name for name, kind in extra.items() if kind in INTEGER_TYPES]
    scores = [name for name, kind in extra.items() if kind in FLOAT_TYPES]
    if len(extra) != 2 or len(keys) != 1 or len(scores) != 1:
        return None
    return OldLayout(key=keys[0], score=scores[0])


def _old_expressions(old: OldLayout, old_columns: Mapping[str, str]) -> dict[str, str]:
    """For each new prediction column, the SQL expression over an old-layout row."""
    derived = {
        "entity_key": f"""'{{"{old.key}":' || CAST({old.key} AS TEXT) || '}}'""",
        "task": "'binary'",
        "score": old.score,
    }
    return {
        name: derived.get(name, name if name in old_columns else "NULL")
        for name in PREDICTION_NAMES
    }


def migrate_sqlite(cursor: Any, predictions: str, feedback: str) -> bool:
    """Rebuild old-layout tables in the new layout (SQLite cannot change a column's type or
    nullability in place): copy into new tables, drop the old ones, rename. True if migrated."""
    columns = {row[1]: row[2] for row in cursor.execute(f"PRAGMA table_info({predictions})")}
    old = old_layout(columns)
    if old is None:
        return False
    staged_predictions, staged_feedback = f"{predictions}_migrating", f"{feedback}_migrating"
    predictions_ddl = table_ddl(staged_predictions, feedback, "sqlite")[0]
    feedback_ddl = table_ddl(predictions, staged_feedback, "sqlite")[1]
    expressions = _old_expressions(old, columns)
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


def _postgres_outdated(
    cursor: Any, predictions: str, feedback: str
) -> tuple[OldLayout | None, bool]:
    """(the old layout's columns if predictions has it, feedback outcomes not yet floating
    point)."""
    old = old_layout(postgres_columns(cursor, predictions))
    outcome = postgres_columns(cursor, feedback).get("outcome")
    return old, outcome is not None and outcome != "double precision"


def migrate_postgres(cursor: Any, predictions: str, feedback: str) -> bool:
    """Alter old-layout tables in place (PostgreSQL DDL is transactional). The tables are
    locked and checked again first, so two servers starting together convert once. True if
    migrated."""
    old, integer_outcomes = _postgres_outdated(cursor, predictions, feedback)
    if old is None and not integer_outcomes:
        return False
    cursor.execute(f"LOCK TABLE {predictions}, {feedback} IN ACCESS EXCLUSIVE MODE")
    old, integer_outcomes = _postgres_outdated(cursor, predictions, feedback)
    if old is not None:
        key = f"""'{{"{old.key}":' || {old.key}::text || '}}'"""
        for statement in (
            f"ALTER TABLE {predictions} ADD COLUMN IF NOT EXISTS violations TEXT",
            f"ALTER TABLE {predictions} ADD COLUMN entity_key TEXT, ADD COLUMN task TEXT",
            f"UPDATE {predictions} SET entity_key = {key}, task = 'binary'",
            f"ALTER TABLE {predictions} ALTER COLUMN entity_key SET NOT NULL, "
            "ALTER COLUMN task SET NOT NULL, ALTER COLUMN label DROP NOT NULL",
            f"ALTER TABLE {predictions} RENAME COLUMN {old.score} TO score",
            f"ALTER TABLE {predictions} DROP COLUMN {old.key}",
        ):
            cursor.execute(statement)
    if integer_outcomes:
        cursor.execute(f"ALTER TABLE {feedback} ALTER COLUMN outcome TYPE DOUBLE PRECISION")
    if old is not None or integer_outcomes:
        logger.info("prediction log %s converted to the generic layout", predictions)
    return old is not None or integer_outcomes

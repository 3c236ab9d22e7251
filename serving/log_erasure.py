"""Erasure (GDPR): an entity's predictions and their feedback deleted in one transaction, and an
audit row that records who erased how much, when, and nothing about the entity.

An `Erasure` is committed by the prediction log's writer like any other item (same transaction
machinery, same connection), so it cannot interleave with a half-written group. It names the
entity by candidate `entity_key` texts: a value typed on the command line (`driver_id=1001`)
may be logged as a number or as a string, so each form is tried (`candidate_keys`), as an exact
match per model on the log's (model_name, entity_key) index (`erasure_filter`; the SQLite log
keeps that index in a table of its own, `log_entity_index`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serving.ids import new_prediction_id
from serving.log_columns import entity_key
from serving.log_entity_index import EntityIndex

ERASE_ACTION = "erase_entity"
AUDIT_COLUMNS = ("audit_id", "at", "action", "actor", "predictions", "feedback")


@dataclass(frozen=True)
class Erasure:
    """A request to erase every record of one entity (of `model`, or of every model when
    None), made by `actor` at `at`. `keys` are the candidate `entity_key` texts."""

    keys: tuple[str, ...]
    model: str | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class ErasureResult:
    predictions: int
    feedback: int
    audit_id: str


@dataclass(frozen=True)
class AuditEvent:
    """One audited action on the log. Holds counts only: no entity, no features."""

    audit_id: str
    at: datetime
    action: str
    actor: str
    predictions: int
    feedback: int


def value_forms(text: str) -> list[Any]:
    """The JSON values a command-line value may have been logged as: the int, the float and
    the string (`"1001"` -> 1001, 1001.0, "1001"; `"abc"` -> "abc")."""
    forms: list[Any] = []
    with contextlib.suppress(ValueError):
        forms.append(int(text))
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            forms.append(number)
    forms.append(text)
    return forms


def candidate_keys(entity: Mapping[str, str]) -> list[str]:
    """Every `entity_key` an entity typed as text may be logged under (each key's forms
    combined), without repeats."""
    names = sorted(entity)
    combos = itertools.product(*(value_forms(entity[name]) for name in names))
    keys = (entity_key(dict(zip(names, combo, strict=True))) for combo in combos)
    return list(dict.fromkeys(keys))


def erasure_keys(entity: Mapping[str, Any] | Sequence[str]) -> tuple[str, ...]:
    """The `entity_key` texts to erase: the entity's own, or the given candidates."""
    if isinstance(entity, Mapping):
        if not entity:
            raise ValueError("an erasure needs at least one join key")
        return (entity_key(entity),)
    if isinstance(entity, str) or not entity:
        raise ValueError("expected candidate entity keys (a non-empty list of JSON texts)")
    return tuple(entity)


def audit_ddl(table: str, *, bigint: str) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {table} (
        audit_id TEXT PRIMARY KEY,
        at {bigint} NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        predictions {bigint} NOT NULL,
        feedback {bigint} NOT NULL
    )"""


def logged_models(
    cursor: Any,
    predictions_table: str,
    entity_index: EntityIndex | None = None,
    through: int = 0,
) -> list[str]:
    """Every model name in the log, read from the (model_name, entity_key) index one name at a
    time (a loose index scan: as many index searches as models, not a pass over the log). The
    SQLite log's index is a table (`entity_index`): its names, and those of the records past
    its mark (`through`)."""
    table = predictions_table if entity_index is None else entity_index.entities
    cursor.execute(
        f"""WITH RECURSIVE logged(name) AS (
            SELECT MIN(model_name) FROM {table}
            UNION ALL
            SELECT (SELECT MIN(model_name) FROM {table} WHERE model_name > logged.name)
            FROM logged WHERE logged.name IS NOT NULL
        ) SELECT name FROM logged WHERE name IS NOT NULL"""
    )
    names = [str(row[0]) for row in cursor.fetchall()]
    if entity_index is None:
        return names
    return sorted({*names, *entity_index.tail_models(cursor, through)})


def erasure_filter(
    cursor: Any, erasure: Erasure, *, predictions_table: str
) -> tuple[str, tuple[Any, ...]] | None:
    """The WHERE clause (with `?` marks) and parameters selecting the erasure's predictions:
    exact `entity_key` texts of the named model, or of every logged model, so each is one search
    of the (model_name, entity_key) index. None when the log holds no model to search."""
    models = [erasure.model] if erasure.model is not None else None
    if models is None:
        models = logged_models(cursor, predictions_table)
    if not models:
        return None
    where = (
        f"model_name IN ({', '.join('?' for _ in models)}) "
        f"AND entity_key IN ({', '.join('?' for _ in erasure.keys)})"
    )
    return where, (*models, *erasure.keys)


def apply_erasure(
    cursor: Any,
    erasure: Erasure,
    *,
    predictions_table: str,
    feedback_table: str,
    audit_table: str,
    placeholder: str,
    bigint: str,
    at_micros: int,
    entity_index: EntityIndex | None = None,
) -> ErasureResult:
    """Delete the entity's feedback, then predictions, then write the audit row (the caller's
    transaction commits all of it or none). `entity_index`: the SQLite log's index table, in
    place of an index on the predictions table."""

    def sql(text: str) -> str:
        return text.replace("?", placeholder)

    cursor.execute(audit_ddl(audit_table, bigint=bigint))  # made by the first erasure

    feedback = predictions = 0
    through = 0
    models: list[str] = []
    if entity_index is None:
        found = erasure_filter(cursor, erasure, predictions_table=predictions_table)
    else:
        through = entity_index.mark(cursor)
        if erasure.model is not None:
            models = [erasure.model]
        else:
            models = logged_models(cursor, predictions_table, entity_index, through)
        found = entity_index.erasure_filter(models, erasure.keys, through) if models else None
    if found is not None:
        where, params = found
        cursor.execute(
            sql(
                f"DELETE FROM {feedback_table} WHERE prediction_id IN "
                f"(SELECT prediction_id FROM {predictions_table} WHERE {where})"
            ),
            params,
        )
        feedback = max(cursor.rowcount, 0)
        cursor.execute(sql(f"DELETE FROM {predictions_table} WHERE {where}"), params)
        predictions = max(cursor.rowcount, 0)
        if entity_index is not None:
            entity_index.after_erasure(cursor, models, erasure.keys, through)
    audit_id = new_prediction_id()
    marks = ", ".join("?" for _ in AUDIT_COLUMNS)
    cursor.execute(
        sql(f"INSERT INTO {audit_table} ({', '.join(AUDIT_COLUMNS)}) VALUES ({marks})"),
        (audit_id, at_micros, ERASE_ACTION, erasure.actor, predictions, feedback),
    )
    return ErasureResult(predictions=predictions, feedback=feedback, audit_id=audit_id)

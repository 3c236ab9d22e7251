"""Erasure (GDPR): a customer's predictions and their feedback deleted in one transaction, and an
audit row that records who erased how much, when, and nothing about the customer.

An `Erasure` is committed by the prediction log's writer like any other item (same transaction
machinery, same connection), so it cannot interleave with a half-written group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serving.ids import new_prediction_id

ERASE_ACTION = "erase_customer"
AUDIT_COLUMNS = ("audit_id", "at", "action", "actor", "predictions", "feedback")


@dataclass(frozen=True)
class Erasure:
    """A request to erase every record of one customer, made by `actor` at `at`."""

    customer_id: int
    actor: str
    at: datetime


@dataclass(frozen=True)
class ErasureResult:
    predictions: int
    feedback: int
    audit_id: str


@dataclass(frozen=True)
class AuditEvent:
    """One audited action on the log. Holds counts only: no customer id, no features."""

    audit_id: str
    at: datetime
    action: str
    actor: str
    predictions: int
    feedback: int


def audit_ddl(table: str, *, bigint: str) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {table} (
        audit_id TEXT PRIMARY KEY,
        at {bigint} NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        predictions {bigint} NOT NULL,
        feedback {bigint} NOT NULL
    )"""


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
) -> ErasureResult:
    """Delete the customer's feedback, then predictions, then write the audit row (the
    caller's transaction commits all of it or none)."""

    def sql(text: str) -> str:
        return text.replace("?", placeholder)

    cursor.execute(audit_ddl(audit_table, bigint=bigint))  # made by the first erasure

    cursor.execute(
        sql(
            f"DELETE FROM {feedback_table} WHERE prediction_id IN "
            f"(SELECT prediction_id FROM {predictions_table} WHERE customer_id = ?)"
        ),
        (erasure.customer_id,),
    )
    feedback = max(cursor.rowcount, 0)
    cursor.execute(
        sql(f"DELETE FROM {predictions_table} WHERE customer_id = ?"), (erasure.customer_id,)
    )
    predictions = max(cursor.rowcount, 0)
    audit_id = new_prediction_id()
    marks = ", ".join("?" for _ in AUDIT_COLUMNS)
    cursor.execute(
        sql(f"INSERT INTO {audit_table} ({', '.join(AUDIT_COLUMNS)}) VALUES ({marks})"),
        (audit_id, at_micros, ERASE_ACTION, erasure.actor, predictions, feedback),
    )
    return ErasureResult(predictions=predictions, feedback=feedback, audit_id=audit_id)

"""The prediction log: one durable record per answered prediction, and feedback joined to it.

A record is made durable (group commit, see `group_commit.py`) before its response is sent, so
every 200 a client saw is in the log. Backends share the SQL below: SQLite in WAL mode for the
local profile (`log_sqlite.py`), PostgreSQL for production (`log_postgres.py`). Exporting to
Parquet and the stats live in `log_export.py`.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from serving.group_commit import GroupCommitter
from serving.log_erasure import (
    AUDIT_COLUMNS,
    ERASE_ACTION,
    AuditEvent,
    Erasure,
    ErasureResult,
    apply_erasure,
)

if TYPE_CHECKING:
    from keel.settings import Settings

logger = logging.getLogger(__name__)

ServedBy = Literal["champion", "challenger", "shadow"]
Task = Literal["binary", "regression"]
FeedbackStatus = Literal["recorded", "unchanged", "unknown", "conflict"]

PREDICTION_COLUMNS = (
    "prediction_id",
    "created_at",
    "model_name",
    "model_version",
    "model_alias",
    "run_id",
    "code_commit",
    "request_id",
    "served_by",
    "entity_key",
    "task",
    "score",
    "label",
    "features",
    "violations",
)
ADDED_COLUMNS = {"violations": "TEXT"}
"""Nullable columns newer than the first layout: each backend adds them to an existing table."""


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (how both backends store time, exactly)."""
    if moment.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def entity_key(entity: Mapping[str, Any]) -> str:
    """The entity's join keys and values as canonical JSON: what the log's `entity_key` holds."""
    return json.dumps(dict(entity), sort_keys=True, separators=(",", ":"))


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


@dataclass(frozen=True)
class PredictionRecord:
    """What one answered (or shadow) prediction was, from which model, on which features."""

    prediction_id: str
    created_at: datetime
    model_name: str
    model_version: str
    model_alias: str | None
    run_id: str
    code_commit: str
    request_id: str | None
    served_by: ServedBy
    entity: dict[str, Any]
    """The join keys and their values, e.g. {"customer_id": 17}."""
    task: Task
    score: float
    """Binary: the probability of class 1; regression: the prediction."""
    label: int | None
    """Binary: int(score >= threshold); regression: None."""
    features: dict[str, Any]
    violations: list[str] | None = None
    """Features outside the version's reference expectations; None when the version has none.
    Stored comma-separated ("" when every feature passed, NULL when not checked)."""

    def row(self) -> tuple[Any, ...]:
        values = {**self.__dict__, "created_at": to_micros(self.created_at)}
        values["entity_key"] = entity_key(self.entity)
        values["features"] = json.dumps(self.features, default=str)
        if self.violations is not None:
            values["violations"] = ",".join(self.violations)
        return tuple(values[c] for c in PREDICTION_COLUMNS)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> PredictionRecord:
        values = dict(zip(PREDICTION_COLUMNS, row, strict=True))
        values["created_at"] = from_micros(int(values["created_at"]))
        values["entity"] = json.loads(values.pop("entity_key"))
        values["features"] = json.loads(values["features"])
        text = values["violations"]
        values["violations"] = None if text is None else [v for v in text.split(",") if v]
        return cls(**values)


@dataclass(frozen=True)
class Feedback:
    """The observed outcome of a prediction (1: the customer churned)."""

    prediction_id: str
    outcome: int
    observed_at: datetime


@dataclass(frozen=True)
class FeedbackResult:
    status: FeedbackStatus
    recorded: Feedback | None
    """What the log holds for the prediction after the call (None when unknown)."""


LogItem = list[PredictionRecord] | Feedback | Erasure
LogResult = FeedbackResult | ErasureResult | None


class PredictionLog(ABC):
    """Append-only predictions plus first-write-wins feedback, committed in groups; the one
    deletion is a customer's erasure (`forget_customer`), audited in the audit table."""

    placeholder = "?"
    bigint = "INTEGER"

    def __init__(self, *, table_prefix: str = "") -> None:
        self.predictions_table = f"{table_prefix}predictions"
        self.feedback_table = f"{table_prefix}prediction_feedback"
        self.audit_table = f"{table_prefix}audit"
        self._committer: GroupCommitter[LogItem, LogResult] = GroupCommitter(
            self._commit_group, name="prediction-log"
        )

    # Writing: every path goes through the group committer.
    async def commit(self, records: list[PredictionRecord]) -> None:
        """Returns once `records` are durable."""
        if records:
            await self._committer.commit(records)

    def append(self, records: list[PredictionRecord]) -> None:
        """Blocking `commit`, for synchronous callers."""
        if records:
            self._committer.commit_now(records)

    async def record_feedback(self, feedback: Feedback) -> FeedbackResult:
        result = await self._committer.commit(feedback)
        assert isinstance(result, FeedbackResult)
        return result

    def record_feedback_now(self, feedback: Feedback) -> FeedbackResult:
        result = self._committer.commit_now(feedback)
        assert isinstance(result, FeedbackResult)
        return result

    def forget_customer(self, customer_id: int, *, actor: str) -> ErasureResult:
        """Erase the customer's predictions and their feedback in one transaction, with an
        audit row (counts, actor, time; no customer data). Blocks until durable."""
        result = self._committer.commit_now(Erasure(customer_id, actor, datetime.now(UTC)))
        assert isinstance(result, ErasureResult)
        # Like the audit row, the log line names no customer. Debug: the caller (`keel
        # predictions forget`) shows the result itself, and the audit row is the record.
        logger.debug(
            "audit %s: %s by %s erased %d predictions and %d feedback records",
            result.audit_id,
            ERASE_ACTION,
            actor,
            result.predictions,
            result.feedback,
        )
        return result

    def close(self) -> None:
        self._committer.close()
        self._close()

    # Shared SQL.
    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    def _insert_predictions_sql(self) -> str:
        marks = ", ".join("?" for _ in PREDICTION_COLUMNS)
        columns = ", ".join(PREDICTION_COLUMNS)
        return self._sql(f"INSERT INTO {self.predictions_table} ({columns}) VALUES ({marks})")

    def _feedback_of(self, cursor: Any, prediction_id: str) -> FeedbackResult | None:
        """The feedback result if the prediction is unknown or already has feedback."""
        cursor.execute(
            self._sql(f"SELECT 1 FROM {self.predictions_table} WHERE prediction_id = ?"),
            (prediction_id,),
        )
        if cursor.fetchone() is None:
            return FeedbackResult("unknown", None)
        return None

    def _apply_feedback(self, cursor: Any, feedback: Feedback) -> FeedbackResult:
        unknown = self._feedback_of(cursor, feedback.prediction_id)
        if unknown is not None:
            return unknown
        cursor.execute(
            self._sql(
                f"SELECT outcome, observed_at FROM {self.feedback_table} WHERE prediction_id = ?"
            ),
            (feedback.prediction_id,),
        )
        existing = cursor.fetchone()
        if existing is None:
            cursor.execute(
                self._sql(
                    f"INSERT INTO {self.feedback_table} "
                    "(prediction_id, outcome, observed_at, received_at) VALUES (?, ?, ?, ?)"
                ),
                (
                    feedback.prediction_id,
                    feedback.outcome,
                    to_micros(feedback.observed_at),
                    to_micros(datetime.now(UTC)),
                ),
            )
            return FeedbackResult("recorded", feedback)
        held = Feedback(feedback.prediction_id, int(existing[0]), from_micros(int(existing[1])))
        return FeedbackResult("unchanged" if held == feedback else "conflict", held)

    def _commit_items(self, cursor: Any, items: Sequence[LogItem]) -> list[LogResult]:
        rows = [r.row() for item in items if isinstance(item, list) for r in item]
        if rows:
            cursor.executemany(self._insert_predictions_sql(), rows)
        return [self._apply_item(cursor, item) for item in items]

    def _apply_item(self, cursor: Any, item: LogItem) -> LogResult:
        if isinstance(item, Feedback):
            return self._apply_feedback(cursor, item)
        if isinstance(item, Erasure):
            return apply_erasure(
                cursor,
                item,
                predictions_table=self.predictions_table,
                feedback_table=self.feedback_table,
                audit_table=self.audit_table,
                placeholder=self.placeholder,
                bigint=self.bigint,
                at_micros=to_micros(item.at),
            )
        return None

    def _select_prediction_sql(self) -> str:
        columns = ", ".join(PREDICTION_COLUMNS)
        return self._sql(f"SELECT {columns} FROM {self.predictions_table} WHERE prediction_id = ?")

    def export_sql(self) -> str:
        """Every prediction with its feedback (outer join), oldest first."""
        columns = ", ".join(f"p.{c}" for c in PREDICTION_COLUMNS)
        return (
            f"SELECT {columns}, f.outcome, f.observed_at FROM {self.predictions_table} p "
            f"LEFT JOIN {self.feedback_table} f ON f.prediction_id = p.prediction_id "
            "ORDER BY p.prediction_id"
        )

    def stats_sql(self) -> str:
        return (
            "SELECT p.model_name, p.model_version, p.served_by, COUNT(*), COUNT(f.prediction_id)"
            f" FROM {self.predictions_table} p LEFT JOIN {self.feedback_table} f"
            " ON f.prediction_id = p.prediction_id"
            " GROUP BY p.model_name, p.model_version, p.served_by"
            " ORDER BY p.model_name, p.model_version, p.served_by"
        )

    # Backend specifics.
    @abstractmethod
    def _commit_group(self, items: Sequence[LogItem]) -> list[LogResult]:
        """Write all items in one transaction and make it durable."""

    @abstractmethod
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows of a read-only query (on a connection separate from the writer's)."""

    @abstractmethod
    def _table_exists(self, name: str) -> bool: ...

    @abstractmethod
    def _close(self) -> None: ...

    # Reading.
    def get(self, prediction_id: str) -> PredictionRecord | None:
        rows = list(self.query(self._select_prediction_sql(), (prediction_id,)))
        return PredictionRecord.from_row(rows[0]) if rows else None

    def feedback(self, prediction_id: str) -> Feedback | None:
        sql = self._sql(
            f"SELECT outcome, observed_at FROM {self.feedback_table} WHERE prediction_id = ?"
        )
        rows = list(self.query(sql, (prediction_id,)))
        if not rows:
            return None
        return Feedback(prediction_id, int(rows[0][0]), from_micros(int(rows[0][1])))

    def count(self) -> int:
        (row,) = self.query(f"SELECT COUNT(*) FROM {self.predictions_table}")
        return int(row[0])

    def audit_events(self) -> list[AuditEvent]:
        """Every audited action, oldest first (the table appears with the first one)."""
        if not self._table_exists(self.audit_table):
            return []
        sql = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {self.audit_table} ORDER BY audit_id"
        return [
            AuditEvent(
                audit_id=str(row[0]),
                at=from_micros(int(row[1])),
                action=str(row[2]),
                actor=str(row[3]),
                predictions=int(row[4]),
                feedback=int(row[5]),
            )
            for row in self.query(sql)
        ]


def predictions_ddl(predictions: str, feedback: str, *, real: str, bigint: str) -> list[str]:
    """The two tables, in the backend's type names."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {predictions} (
            prediction_id TEXT PRIMARY KEY,
            created_at {bigint} NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            model_alias TEXT,
            run_id TEXT NOT NULL,
            code_commit TEXT NOT NULL,
            request_id TEXT,
            served_by TEXT NOT NULL,
            entity_key TEXT NOT NULL,
            task TEXT NOT NULL,
            score {real} NOT NULL,
            label {bigint},
            features TEXT NOT NULL,
            violations TEXT
        )""",
        f"""CREATE TABLE IF NOT EXISTS {feedback} (
            prediction_id TEXT PRIMARY KEY REFERENCES {predictions} (prediction_id),
            outcome {bigint} NOT NULL,
            observed_at {bigint} NOT NULL,
            received_at {bigint} NOT NULL
        )""",
    ]


def open_prediction_log(settings: Settings) -> PredictionLog:
    """The profile's log: SQLite in the workspace (local) or PostgreSQL (production)."""
    if settings.profile == "production":
        from serving.log_postgres import PostgresPredictionLog

        return PostgresPredictionLog(settings.postgres_url, table_prefix=f"{settings.project}_")
    from keel.workspace import Workspace
    from serving.log_sqlite import SqlitePredictionLog

    return SqlitePredictionLog(Workspace.from_settings(settings).prediction_log)

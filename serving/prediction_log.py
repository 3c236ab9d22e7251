"""The prediction log: one durable record per answered prediction, and feedback joined to it.

A record is made durable (group commit, see `group_commit.py`) before its response is sent, so
every 200 a client saw is in the log. A record names its model and its entity (the join keys,
stored as canonical JSON in `entity_key`), so one log holds every model: binary (score = the
probability, label at the threshold) and regression (score = the prediction, no label). The
columns are declared once in `log_columns.py`; backends share the SQL below: SQLite in WAL mode
for the local profile (`log_sqlite.py`), PostgreSQL for production (`log_postgres.py`); a log of
the layout before it was generic is converted when opened (`log_migration.py`). Exporting to
Parquet and the stats live in `log_export.py`, erasure in `log_erasure.py`.
"""

from __future__ import annotations

import json
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from keel.core.project import Task
from serving.fast_json import features_json
from serving.group_commit import GroupCommitter
from serving.log_columns import (
    FEEDBACK_COLUMNS,
    PREDICTION_COLUMNS,
    PREDICTION_NAMES,
    Backend,
    index_ddl,
    insert_sql,
    select_list,
    table_ddl,
)
from serving.log_columns import entity_key as entity_key
from serving.log_entity_index import EntityIndex
from serving.log_erasure import (
    AUDIT_COLUMNS,
    ERASE_ACTION,
    AuditEvent,
    Erasure,
    ErasureResult,
    apply_erasure,
    erasure_keys,
)

if TYPE_CHECKING:
    from keel.core.settings import Settings

logger = logging.getLogger(__name__)

ServedBy = Literal["champion", "challenger", "shadow"]
FeedbackStatus = Literal["recorded", "unchanged", "unknown", "conflict", "invalid"]


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (how both backends store time, exactly)."""
    if moment.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


@dataclass(frozen=True)
class PredictionRecord:
    """What one answered (or shadow) prediction was, from which model, for which entity, on
    which features."""

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
    """The join keys and their values, e.g. {"driver_id": 1001}."""
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
        """The stored values, in `PREDICTION_NAMES` order (built directly: the write path)."""
        violations = self.violations
        return (
            self.prediction_id,
            to_micros(self.created_at),
            self.model_name,
            self.model_version,
            self.model_alias,
            self.run_id,
            self.code_commit,
            self.request_id,
            self.served_by,
            entity_key(self.entity),
            self.task,
            self.score,
            self.label,
            features_json(self.features),
            None if violations is None else ",".join(violations),
        )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> PredictionRecord:
        values = dict(zip(PREDICTION_NAMES, row, strict=True))
        values["created_at"] = from_micros(int(values["created_at"]))
        values["entity"] = json.loads(values.pop("entity_key"))
        values["score"] = float(values["score"])
        values["label"] = None if values["label"] is None else int(values["label"])
        values["features"] = json.loads(values["features"])
        text = values["violations"]
        values["violations"] = None if text is None else [v for v in text.split(",") if v]
        return cls(**values)


@dataclass(frozen=True)
class Feedback:
    """The observed outcome of a prediction: 0 or 1 for a binary model (1: the positive class
    happened), the observed value for a regression model."""

    prediction_id: str
    outcome: float
    observed_at: datetime


def outcome_problem(task: str, outcome: float) -> str | None:
    """Why `outcome` cannot be the observed outcome of a prediction of `task` (None: it can)."""
    if isinstance(outcome, bool) or not isinstance(outcome, int | float):
        return f"expected a number, got {outcome!r}"
    if not math.isfinite(outcome):
        return f"expected a finite number, got {outcome!r}"
    if task == "binary" and outcome not in (0, 1):
        return f"expected 0 or 1, got {outcome!r}"
    return None


def stored_outcome(task: str, value: Any) -> float:
    """An outcome as the log answers it: an int for a binary model, a float for regression."""
    return int(value) if task == "binary" else float(value)


@dataclass(frozen=True)
class FeedbackResult:
    status: FeedbackStatus
    recorded: Feedback | None
    """What the log holds for the prediction after the call (None when unknown or invalid)."""
    reason: str | None = None
    """Why the outcome was refused (status `invalid`): names the model and its task."""


LogItem = list[PredictionRecord] | Feedback | Erasure
LogResult = FeedbackResult | ErasureResult | None


class PredictionLog(ABC):
    """Append-only predictions plus first-write-wins feedback, committed in groups; the one
    deletion is an entity's erasure (`forget_entity`), audited in the audit table."""

    placeholder = "?"
    backend: Backend = "sqlite"
    entity_index: EntityIndex | None = None
    """The SQLite log's entity index table; None where the predictions table holds the index."""

    def __init__(self, *, table_prefix: str = "", idle: Callable[[], bool] | None = None) -> None:
        self.predictions_table = f"{table_prefix}predictions"
        self.feedback_table = f"{table_prefix}prediction_feedback"
        self.audit_table = f"{table_prefix}audit"
        self._committer: GroupCommitter[LogItem, LogResult] = GroupCommitter(
            self._commit_group, name="prediction-log", idle=idle
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

    def forget_entity(
        self,
        entity: Mapping[str, Any] | Sequence[str],
        *,
        model: str | None = None,
        actor: str,
    ) -> ErasureResult:
        """Erase an entity's predictions (of `model`, or of every model) and their feedback in
        one transaction, with an audit row (counts, actor, time; no entity data). `entity` is
        the join keys and values, or candidate `entity_key` texts (`log_erasure.candidate_keys`).
        Blocks until durable."""
        erasure = Erasure(erasure_keys(entity), model, actor, datetime.now(UTC))
        result = self._committer.commit_now(erasure)
        assert isinstance(result, ErasureResult)
        # Like the audit row, the log line names no entity. Debug: the caller (`keel
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

    def _ddl(self) -> list[str]:
        """The tables (if missing); the entity index comes after any migration."""
        return table_ddl(self.predictions_table, self.feedback_table, self.backend)

    def _index_ddl(self) -> str:
        return index_ddl(self.predictions_table)

    def _apply_feedback(self, cursor: Any, feedback: Feedback) -> FeedbackResult:
        cursor.execute(
            self._sql(
                f"SELECT model_name, task FROM {self.predictions_table} WHERE prediction_id = ?"
            ),
            (feedback.prediction_id,),
        )
        found = cursor.fetchone()
        if found is None:
            return FeedbackResult("unknown", None)
        model, task = str(found[0]), str(found[1])
        problem = outcome_problem(task, feedback.outcome)
        if problem is not None:
            reason = f"model {model} is a {task} model: {problem}"
            return FeedbackResult("invalid", None, reason)
        given = Feedback(
            feedback.prediction_id, stored_outcome(task, feedback.outcome), feedback.observed_at
        )
        cursor.execute(
            self._sql(
                f"SELECT outcome, observed_at FROM {self.feedback_table} WHERE prediction_id = ?"
            ),
            (feedback.prediction_id,),
        )
        existing = cursor.fetchone()
        if existing is None:
            cursor.execute(
                self._sql(insert_sql(self.feedback_table, FEEDBACK_COLUMNS)),
                (
                    given.prediction_id,
                    given.outcome,
                    to_micros(given.observed_at),
                    to_micros(datetime.now(UTC)),
                ),
            )
            return FeedbackResult("recorded", given)
        held = Feedback(
            feedback.prediction_id,
            stored_outcome(task, existing[0]),
            from_micros(int(existing[1])),
        )
        return FeedbackResult("unchanged" if held == given else "conflict", held)

    def _commit_items(self, cursor: Any, items: Sequence[LogItem]) -> list[LogResult]:
        rows = [r.row() for item in items if isinstance(item, list) for r in item]
        if rows:
            cursor.executemany(
                self._sql(insert_sql(self.predictions_table, PREDICTION_COLUMNS)), rows
            )
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
                bigint="INTEGER" if self.backend == "sqlite" else "BIGINT",
                at_micros=to_micros(item.at),
                entity_index=self.entity_index,
            )
        return None

    def _select_prediction_sql(self) -> str:
        return self._sql(
            f"SELECT {select_list(PREDICTION_COLUMNS)} FROM {self.predictions_table} "
            "WHERE prediction_id = ?"
        )

    def export_sql(self, model: str | None = None) -> str:
        """Every prediction (of `model`, when given: pass it as the one parameter) with its
        feedback (outer join), oldest first. Columns: `PREDICTION_COLUMNS`, outcome, observed_at."""
        where = " WHERE p.model_name = ?" if model is not None else ""
        return self._sql(
            f"SELECT {select_list(PREDICTION_COLUMNS, 'p')}, f.outcome, f.observed_at "
            f"FROM {self.predictions_table} p "
            f"LEFT JOIN {self.feedback_table} f ON f.prediction_id = p.prediction_id"
            f"{where} ORDER BY p.prediction_id"
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
            f"SELECT f.outcome, f.observed_at, p.task FROM {self.feedback_table} f "
            f"JOIN {self.predictions_table} p ON p.prediction_id = f.prediction_id "
            "WHERE f.prediction_id = ?"
        )
        rows = list(self.query(sql, (prediction_id,)))
        if not rows:
            return None
        outcome, observed_at, task = rows[0]
        return Feedback(
            prediction_id, stored_outcome(str(task), outcome), from_micros(int(observed_at))
        )

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


def open_prediction_log(settings: Settings) -> PredictionLog:
    """The profile's log: SQLite in the workspace (local) or PostgreSQL (production)."""
    if settings.profile == "production":
        from serving.log_postgres import PostgresPredictionLog

        return PostgresPredictionLog(settings.postgres_url, table_prefix=f"{settings.project}_")
    from keel.core.workspace import Workspace
    from serving.log_sqlite import SqlitePredictionLog

    return SqlitePredictionLog(Workspace.from_settings(settings).prediction_log)

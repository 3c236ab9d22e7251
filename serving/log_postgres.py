"""The production prediction log: PostgreSQL (a commit returns once the WAL is flushed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from serving.prediction_log import (
    ADDED_COLUMNS,
    FeedbackResult,
    LogItem,
    PredictionLog,
    predictions_ddl,
)


class PostgresPredictionLog(PredictionLog):
    """Tables `<prefix>predictions` and `<prefix>prediction_feedback` in the given database."""

    placeholder = "%s"

    def __init__(self, url: str, *, table_prefix: str = "keel_") -> None:
        self._writer = psycopg.connect(url, autocommit=False)
        self._reader = psycopg.connect(url, autocommit=True)
        self._read_lock = threading.Lock()
        super().__init__(table_prefix=table_prefix)
        with self._writer.cursor() as cursor:
            for statement in predictions_ddl(
                self.predictions_table,
                self.feedback_table,
                real="DOUBLE PRECISION",
                bigint="BIGINT",
            ):
                cursor.execute(statement)
            for name, kind in ADDED_COLUMNS.items():  # logs created before the column existed
                cursor.execute(
                    f"ALTER TABLE {self.predictions_table} ADD COLUMN IF NOT EXISTS {name} {kind}"
                )
        self._writer.commit()

    def _commit_group(self, items: Sequence[LogItem]) -> list[FeedbackResult | None]:
        try:
            with self._writer.cursor() as cursor:
                results = self._commit_items(cursor, items)
            self._writer.commit()
        except BaseException:
            self._writer.rollback()
            raise
        return results

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        with self._read_lock, self._reader.cursor() as cursor:
            cursor.execute(sql, params or None)
            rows = cursor.fetchall()
        yield from rows

    def _close(self) -> None:
        self._writer.close()
        with self._read_lock:
            self._reader.close()

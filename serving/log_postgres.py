"""The production prediction log: PostgreSQL (a commit returns once the WAL is flushed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from keel.core.backends import redact_url
from keel.core.errors import BackendUnavailable, WorkspaceNotReady
from serving.log_columns import PREDICTION_NAMES
from serving.log_migration import migrate_postgres, postgres_columns
from serving.prediction_log import LogItem, LogResult, PredictionLog


def _connect(url: str, *, autocommit: bool) -> psycopg.Connection[Any]:
    """A connection, or `BackendUnavailable` naming the database without its password."""
    try:
        return psycopg.connect(url, autocommit=autocommit)
    except psycopg.Error as error:
        raise BackendUnavailable(
            f"cannot reach the prediction log database at {redact_url(url)}: "
            f"{str(error).strip() or type(error).__name__}"
        ) from error


class PostgresPredictionLog(PredictionLog):
    """Tables `<prefix>predictions` and `<prefix>prediction_feedback` in the given database."""

    placeholder = "%s"
    backend = "postgres"

    def __init__(self, url: str, *, table_prefix: str = "keel_") -> None:
        self._writer = _connect(url, autocommit=False)
        try:
            self._reader = _connect(url, autocommit=True)
        except BackendUnavailable:
            self._writer.close()
            raise
        self._read_lock = threading.Lock()
        super().__init__(table_prefix=table_prefix)
        try:
            self._prepare()
        except BaseException:
            self._writer.rollback()
            self.close()
            raise

    def _prepare(self) -> None:
        """Create, or convert an old layout, in one transaction; refuse an unknown layout.

        Servers starting together (the API's workers) take turns under an advisory lock held to
        the commit: PostgreSQL's `CREATE TABLE IF NOT EXISTS` is not safe against a concurrent
        one (the loser fails with a unique violation on `pg_type`)."""
        with self._writer.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.predictions_table,))
            for statement in self._ddl():
                cursor.execute(statement)
            migrate_postgres(cursor, self.predictions_table, self.feedback_table)
            missing = set(PREDICTION_NAMES) - set(postgres_columns(cursor, self.predictions_table))
            if missing:
                raise WorkspaceNotReady(
                    f"prediction log table {self.predictions_table} has an unknown layout "
                    f"(no {', '.join(sorted(missing))}): export what you need, then rename "
                    "the table and restart"
                )
            cursor.execute(self._index_ddl())
        self._writer.commit()

    def _commit_group(self, items: Sequence[LogItem]) -> list[LogResult]:
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

    def _table_exists(self, name: str) -> bool:
        (row,) = self.query("SELECT to_regclass(%s) IS NOT NULL", (name,))
        return bool(row[0])

    def _close(self) -> None:
        self._writer.close()
        with self._read_lock:
            self._reader.close()

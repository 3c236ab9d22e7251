"""The local prediction log: SQLite in WAL mode, `synchronous=FULL` (each commit is fsynced);
checkpoints run on a thread of their own (`log_checkpoint.py`), not inside a commit, and the
entity index is filled by the writer between commits (`log_entity_index.py`)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from keel.core.errors import WorkspaceNotReady
from serving.log_checkpoint import WAL_LIMIT_BYTES, WalCheckpointer
from serving.log_columns import PREDICTION_NAMES
from serving.log_entity_index import EntityIndex, index_pending
from serving.log_migration import migrate_sqlite
from serving.prediction_log import LogItem, LogResult, PredictionLog


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a log file of a layout Keel cannot convert instead of failing on every commit."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(predictions)")}
    missing = set(PREDICTION_NAMES) - columns
    if missing:
        raise WorkspaceNotReady(
            f"prediction log {path} has an older layout (no {', '.join(sorted(missing))}): "
            "export what you need, then move the file away and restart"
        )


class SqlitePredictionLog(PredictionLog):
    """One writer connection (used only by the group-commit thread) and one reader."""

    entity_index: EntityIndex

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer = _connect(path)
        super().__init__(idle=self._index_pending)
        self.entity_index = EntityIndex(self.predictions_table)
        try:
            self._prepare(path)
        except BaseException:
            self._committer.close()
            self._writer.close()
            raise
        self._writer.execute("PRAGMA wal_autocheckpoint = 0")
        self._writer.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
        self._checkpointer = WalCheckpointer(path, lambda: _connect(path))
        self._reader = _connect(path)
        self._read_lock = threading.Lock()
        self._committer.wake_idle()  # records a previous process left unindexed

    def _index_pending(self) -> bool:
        """The writer's idle work: one step of the entity index (`log_entity_index`)."""
        more = index_pending(self._writer, self.entity_index)
        self._checkpointer.committed()
        return more

    def _prepare(self, path: Path) -> None:
        """Create, or convert an old layout, in one transaction; refuse an unknown layout."""
        cursor = self._writer.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            for statement in self._ddl():
                cursor.execute(statement)
            migrate_sqlite(cursor, self.predictions_table, self.feedback_table)
            _check_schema(self._writer, path)
            for statement in self.entity_index.ddl():
                cursor.execute(statement)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def _commit_group(self, items: Sequence[LogItem]) -> list[LogResult]:
        cursor = self._writer.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            results = self._commit_items(cursor, items)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
        self._checkpointer.committed()
        return results

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        with self._read_lock:
            rows = self._reader.execute(sql, params).fetchall()
        yield from rows

    def _table_exists(self, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(list(self.query(sql, (name,))))

    def _close(self) -> None:
        self._checkpointer.close()
        self._writer.close()
        with self._read_lock:
            self._reader.close()

"""The local prediction log: SQLite in WAL mode, `synchronous=FULL` (each commit is fsynced)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from keel.errors import WorkspaceNotReady
from serving.prediction_log import (
    ADDED_COLUMNS,
    PREDICTION_COLUMNS,
    LogItem,
    LogResult,
    PredictionLog,
    predictions_ddl,
)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _add_columns(db: sqlite3.Connection) -> None:
    """Add the nullable columns newer than a log's layout (only to a log otherwise current)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(predictions)")}
    if set(PREDICTION_COLUMNS) - set(ADDED_COLUMNS) <= columns:
        for name, kind in ADDED_COLUMNS.items():
            if name not in columns:
                db.execute(f"ALTER TABLE predictions ADD COLUMN {name} {kind}")


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a log file written by an older Keel instead of failing on every commit."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(predictions)")}
    missing = set(PREDICTION_COLUMNS) - columns
    if missing:
        raise WorkspaceNotReady(
            f"prediction log {path} has an older layout (no {', '.join(sorted(missing))}): "
            "export what you need, then move the file away and restart"
        )


class SqlitePredictionLog(PredictionLog):
    """One writer connection (used only by the group-commit thread) and one reader."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer = _connect(path)
        for statement in predictions_ddl(
            "predictions", "prediction_feedback", real="REAL", bigint="INTEGER"
        ):
            self._writer.execute(statement)
        _add_columns(self._writer)
        _check_schema(self._writer, path)
        self._reader = _connect(path)
        self._read_lock = threading.Lock()
        super().__init__()

    def _commit_group(self, items: Sequence[LogItem]) -> list[LogResult]:
        cursor = self._writer.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            results = self._commit_items(cursor, items)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
        return results

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        with self._read_lock:
            rows = self._reader.execute(sql, params).fetchall()
        yield from rows

    def _table_exists(self, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(list(self.query(sql, (name,))))

    def _close(self) -> None:
        self._writer.close()
        with self._read_lock:
            self._reader.close()

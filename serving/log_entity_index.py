"""The SQLite log's entity index, kept off the commit path.

An index on (model_name, entity_key) inside the predictions table put each record of a commit
on a random index page: a commit of 100 records wrote ~100 more pages and cost 2.3-2.6 ms once
the log held 150,000 records, against 0.7-0.9 ms without the index, and every answer waits for
its commit. Here the index is a table of its own, (model_name, entity_key, prediction_id),
filled by the log's writer thread when no commit is waiting (`index_step`, a few dozen records
at a time, without an fsync: it is derived data), up to a mark: the rowid of the last record
indexed, with that record's prediction id to tell if rowids moved (a VACUUM, or a new record
taking an erased record's rowid). An erasure searches the index, then the records past the
mark (the tail not yet indexed: those of the last moments), so it finds every record whatever
the indexer has reached.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from serving.log_columns import ENTITY_KEY_INDEX

INDEX_STEP_ROWS = 64
"""Records indexed per step: about half a millisecond that a commit arriving meanwhile waits."""

ENTITIES_SUFFIX = "_entities"
MARK_SUFFIX = "_entities_mark"


@dataclass(frozen=True)
class EntityIndex:
    """The index of `predictions` (table names follow the log's prefix)."""

    predictions: str

    @property
    def entities(self) -> str:
        return self.predictions + ENTITIES_SUFFIX

    @property
    def mark_table(self) -> str:
        return self.predictions + MARK_SUFFIX

    def ddl(self) -> list[str]:
        """The index and its mark (if missing), and the end of the in-table index older logs
        had (its pages are freed; the new index fills from the start)."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.entities} ("
            "model_name TEXT NOT NULL, entity_key TEXT NOT NULL, prediction_id TEXT NOT NULL, "
            "PRIMARY KEY (model_name, entity_key, prediction_id)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.mark_table} ("
            "only INTEGER PRIMARY KEY CHECK (only = 0), through INTEGER NOT NULL, "
            "prediction_id TEXT)",
            f"INSERT OR IGNORE INTO {self.mark_table} VALUES (0, 0, NULL)",
            f"DROP INDEX IF EXISTS {self.predictions}_{ENTITY_KEY_INDEX}",
        ]

    def mark(self, cursor: Any) -> int:
        """The rowid through which every record is indexed; 0 when the rowids are not those
        the mark was taken on (then the whole log is the tail until the indexer catches up)."""
        through, prediction_id = cursor.execute(
            f"SELECT through, prediction_id FROM {self.mark_table}"
        ).fetchone()
        if through == 0:
            return 0
        found = cursor.execute(
            f"SELECT prediction_id FROM {self.predictions} WHERE rowid = ?", (through,)
        ).fetchone()
        return int(through) if found is not None and found[0] == prediction_id else 0

    def _set_mark(self, cursor: Any, through: int, prediction_id: str | None) -> None:
        cursor.execute(
            f"UPDATE {self.mark_table} SET through = ?, prediction_id = ?",
            (through, prediction_id),
        )

    def index_step(self, cursor: Any, limit: int = INDEX_STEP_ROWS) -> bool:
        """Index up to `limit` records past the mark (inside the caller's transaction); True
        when more are waiting. A few statements whatever `limit` is: SQLite does the work
        without Python's lock, so a request read beside it is not slowed."""
        through = self.mark(cursor)
        last, count = cursor.execute(
            f"SELECT max(rowid), count(*) FROM (SELECT rowid FROM {self.predictions} "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?)",
            (through, limit),
        ).fetchone()
        if not count:
            return False
        cursor.execute(
            f"INSERT OR IGNORE INTO {self.entities} "
            f"SELECT model_name, entity_key, prediction_id FROM {self.predictions} "
            "WHERE rowid > ? AND rowid <= ?",
            (through, last),
        )
        cursor.execute(
            f"UPDATE {self.mark_table} SET through = ?, prediction_id = "
            f"(SELECT prediction_id FROM {self.predictions} WHERE rowid = ?)",
            (last, last),
        )
        return bool(count == limit)

    def tail_models(self, cursor: Any, through: int) -> set[str]:
        """The model names of the records past the mark (`through`: `mark()`), not yet in the
        index table (`log_erasure.logged_models` reads the table's)."""
        cursor.execute(
            f"SELECT DISTINCT model_name FROM {self.predictions} WHERE rowid > ?", (through,)
        )
        return {str(row[0]) for row in cursor.fetchall()}

    def erasure_filter(
        self, models: Sequence[str], keys: Sequence[str], through: int
    ) -> tuple[str, tuple[Any, ...]]:
        """The WHERE clause selecting `models`' records of the entity `keys`: the index's
        prediction ids, and the tail past the mark (`through`: `mark()`); both checked against
        the record itself."""
        in_models = ", ".join("?" for _ in models)
        in_keys = ", ".join("?" for _ in keys)
        where = (
            f"model_name IN ({in_models}) AND entity_key IN ({in_keys}) AND ("
            f"prediction_id IN (SELECT prediction_id FROM {self.entities} "
            f"WHERE model_name IN ({in_models}) AND entity_key IN ({in_keys})) "
            "OR rowid > ?)"
        )
        return where, (*models, *keys, *models, *keys, through)

    def after_erasure(
        self, cursor: Any, models: Sequence[str], keys: Sequence[str], through: int
    ) -> None:
        """Drop the erased entity's index entries and, if the record at the mark (`through`,
        read before the erasure) was erased, move the mark back to the last record before it
        (a new record may take a freed rowid: it must land past the mark)."""
        cursor.execute(
            f"DELETE FROM {self.entities} WHERE model_name IN ({', '.join('?' for _ in models)}) "
            f"AND entity_key IN ({', '.join('?' for _ in keys)})",
            (*models, *keys),
        )
        if not through or self.mark(cursor) == through:
            return
        previous = cursor.execute(
            f"SELECT rowid, prediction_id FROM {self.predictions} WHERE rowid < ? "
            "ORDER BY rowid DESC LIMIT 1",
            (through,),
        ).fetchone()
        self._set_mark(cursor, *(previous if previous is not None else (0, None)))


def index_pending(db: sqlite3.Connection, index: EntityIndex) -> bool:
    """One indexing step in its own transaction, not fsynced (the index is derived: a step
    lost to a crash is redone from the mark), never waiting on another writer. True when more
    records are waiting."""
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA busy_timeout = 0")
    try:
        cursor = db.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # another process is writing: index later
            return False
        try:
            more = index.index_step(cursor)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
        return more
    finally:
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA synchronous = FULL")

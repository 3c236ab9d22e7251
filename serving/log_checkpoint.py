"""Checkpoints of the local prediction log, off the commit path.

In WAL mode SQLite copies committed pages back into the database file (a checkpoint) when the
WAL passes 1,000 pages, inside the commit that crossed the line: that commit (and every answer
waiting on it) paid the copy and two more fsyncs, the tail of the serving latency. Here the
writer's automatic checkpoints are off and a thread of its own, on its own connection, runs
passive checkpoints (they never block the writer) about once a `pause` after commits. A commit
is as durable as before: it returns once its WAL frames are fsynced; a checkpoint only moves
them, and a crash before one leaves them in the WAL, which SQLite replays on open.

The thread runs at the lowest CPU priority (`CHECKPOINT_NICE`): a checkpoint copies a few MiB
and fsyncs them, and at full CPU load it took the core the event loop needed for 5-10 ms,
stalling every request in flight (LR champion, c=8, fresh log, 6 runs each: p99 4.3-5.2 ms,
3.95-4.8 at nice 19). It still runs whenever a core is idle; starved of CPU it lets the WAL
grow, and the RESTART past `WAL_LIMIT_BYTES` keeps that bounded.

The writer starts the WAL over only when a checkpoint has caught up with it, which commits
arriving without a break can prevent; past `WAL_LIMIT_BYTES` the thread runs a RESTART
checkpoint (it waits for the writer, and the pages left to copy are few after the passive
ones) so the file stays bounded, and the writer's `journal_size_limit` truncates it back.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

PAUSE_S = 0.5
"""Seconds between checkpoints while commits keep coming (the WAL then holds about that many
seconds of records: a few MiB at full speed)."""

WAL_LIMIT_BYTES = 64 * 1024 * 1024
"""A WAL larger than this after a passive checkpoint gets a RESTART checkpoint."""

CHECKPOINT_NICE = 19
"""The checkpoint thread's nice value (Linux: per thread; the lowest priority)."""


class WalCheckpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` on `connect()`'s connection after commits to the
    database at `path` (RESTART when its WAL outgrows `wal_limit` bytes)."""

    def __init__(
        self,
        path: Path,
        connect: Callable[[], sqlite3.Connection],
        *,
        pause: float = PAUSE_S,
        wal_limit: int = WAL_LIMIT_BYTES,
    ) -> None:
        self._wal = path.with_name(path.name + "-wal")
        self._db = connect()
        self._pause = pause
        self._wal_limit = wal_limit
        self._committed = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Note a commit: a checkpoint follows within `pause` seconds."""
        self._committed.set()

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """One checkpoint now: (busy, WAL frames, frames checkpointed)."""
        (row,) = self._db.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        return int(row[0]), int(row[1]), int(row[2])

    def _wal_bytes(self) -> int:
        try:
            return self._wal.stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        """Stop the thread after a last checkpoint (the writer has committed its last group)."""
        self._stopping.set()
        self._committed.set()
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        _lower_priority()
        while True:
            self._committed.wait()
            if self._stopping.wait(self._pause):
                break
            self._committed.clear()
            self._checkpoint_logged()
        self._checkpoint_logged()

    def _checkpoint_logged(self) -> None:
        try:
            self.checkpoint()
            if self._wal_bytes() > self._wal_limit:
                self.checkpoint("RESTART")
        except sqlite3.Error as error:  # the next commit's checkpoint retries
            logger.warning("prediction log checkpoint failed: %s", error)


def _lower_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux sets nice per thread; elsewhere,
    or where it is refused, the thread keeps its priority)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHECKPOINT_NICE)
    except (AttributeError, OSError) as error:
        logger.debug("checkpoint thread keeps its priority: %s", error)

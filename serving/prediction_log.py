"""The prediction log: one durable record per answered prediction (SQLite, WAL mode).

A record is committed before the response is sent, so every 200 a client saw is in the log.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    prediction_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    churn_probability REAL NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    model_alias TEXT,
    run_id TEXT NOT NULL,
    code_commit TEXT NOT NULL,
    request_id TEXT,
    features TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class PredictionRecord:
    prediction_id: str
    created_at: str
    customer_id: int
    churn_probability: float
    model_name: str
    model_version: str
    model_alias: str | None
    run_id: str
    code_commit: str
    request_id: str | None
    features: dict[str, Any]


class PredictionLog:
    """Append-only log; safe to share between the server's worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(SCHEMA)

    def append(self, record: PredictionRecord) -> None:
        """Write and commit one record; returns only once it is durable."""
        row = asdict(record)
        row["features"] = json.dumps(record.features, sort_keys=True, default=str)
        columns = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        with self._lock:
            self._db.execute(f"INSERT INTO predictions ({columns}) VALUES ({marks})", row)

    def get(self, prediction_id: str) -> PredictionRecord | None:
        with self._lock:
            cursor = self._db.execute(
                "SELECT * FROM predictions WHERE prediction_id = ?", (prediction_id,)
            )
            names = [d[0] for d in cursor.description]
            found = cursor.fetchone()
        if found is None:
            return None
        row = dict(zip(names, found, strict=True))
        row["features"] = json.loads(row["features"])
        return PredictionRecord(**row)

    def count(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM predictions").fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()

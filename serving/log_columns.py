"""The prediction log's columns, declared once: the DDL of both backends, the insert and select
SQL and the Parquet export schema are derived from `PREDICTION_COLUMNS` and `FEEDBACK_COLUMNS`.

Times are stored as microseconds since the Unix epoch (exact on both backends) and exported as
`timestamp[us, UTC]`; `features` (JSON) is expanded into one export column per feature.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

Backend = Literal["sqlite", "postgres"]
TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class LogColumn:
    """One stored column: its SQL type per backend, its Arrow type in the export (None: not
    exported as itself), and whether it may be NULL."""

    name: str
    sqlite: str
    postgres: str
    arrow: pa.DataType | None
    nullable: bool = False

    def sql_type(self, backend: Backend) -> str:
        return self.sqlite if backend == "sqlite" else self.postgres


def _text(name: str, *, nullable: bool = False) -> LogColumn:
    return LogColumn(name, "TEXT", "TEXT", pa.string(), nullable)


def _micros(name: str) -> LogColumn:
    return LogColumn(name, "INTEGER", "BIGINT", TIMESTAMP)


PREDICTION_COLUMNS: tuple[LogColumn, ...] = (
    _text("prediction_id"),
    _micros("created_at"),
    _text("model_name"),
    _text("model_version"),
    _text("model_alias", nullable=True),
    _text("run_id"),
    _text("code_commit"),
    _text("request_id", nullable=True),
    _text("served_by"),
    _text("entity_key"),
    _text("task"),
    LogColumn("score", "REAL", "DOUBLE PRECISION", pa.float64()),
    LogColumn("label", "INTEGER", "BIGINT", pa.int64(), nullable=True),
    LogColumn("features", "TEXT", "TEXT", None),
    _text("violations", nullable=True),
)
"""In the order of `PredictionRecord.row()`. `entity_key` is the canonical JSON of the join keys
(`prediction_log.entity_key`); `label` is NULL for regression; `violations` is comma-separated
("" when every feature passed, NULL when not checked)."""

FEEDBACK_COLUMNS: tuple[LogColumn, ...] = (
    _text("prediction_id"),
    LogColumn("outcome", "REAL", "DOUBLE PRECISION", pa.float64()),
    _micros("observed_at"),
    LogColumn("received_at", "INTEGER", "BIGINT", None),
)

PREDICTION_NAMES = tuple(c.name for c in PREDICTION_COLUMNS)
FEEDBACK_EXPORTED = tuple(c for c in FEEDBACK_COLUMNS if c.name in ("outcome", "observed_at"))
ENTITY_KEY_INDEX = "model_entity"
"""Suffix of the index on (model_name, entity_key) that erasure and lookups by entity use."""


_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def entity_key(entity: Mapping[str, Any]) -> str:
    """The canonical JSON of an entity's join keys: what the log's `entity_key` column holds."""
    return _CANONICAL_JSON(dict(entity))


def _column_ddl(column: LogColumn, backend: Backend) -> str:
    return f"{column.name} {column.sql_type(backend)}{'' if column.nullable else ' NOT NULL'}"


def table_ddl(predictions: str, feedback: str, backend: Backend) -> list[str]:
    """CREATE TABLE (if missing) of both tables, then the entity index."""
    rows = [
        _column_ddl(c, backend) + (" PRIMARY KEY" if c.name == "prediction_id" else "")
        for c in PREDICTION_COLUMNS
    ]
    answers = [
        _column_ddl(c, backend)
        + (
            f" PRIMARY KEY REFERENCES {predictions} (prediction_id)"
            if c.name == "prediction_id"
            else ""
        )
        for c in FEEDBACK_COLUMNS
    ]
    return [
        f"CREATE TABLE IF NOT EXISTS {predictions} (\n    " + ",\n    ".join(rows) + "\n)",
        f"CREATE TABLE IF NOT EXISTS {feedback} (\n    " + ",\n    ".join(answers) + "\n)",
    ]


def index_ddl(predictions: str) -> str:
    return (
        f"CREATE INDEX IF NOT EXISTS {predictions}_{ENTITY_KEY_INDEX} "
        f"ON {predictions} (model_name, entity_key)"
    )


def insert_sql(table: str, columns: tuple[LogColumn, ...]) -> str:
    """INSERT of every column, with `?` marks (the log swaps them for its backend's)."""
    names = ", ".join(c.name for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"


def select_list(columns: tuple[LogColumn, ...], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{c.name}" for c in columns)

"""The prediction log as Parquet (queryable with DuckDB) and its summary statistics.

Parquet columns, in this order (the monitoring contract):

- `prediction_id` string, `created_at` timestamp[us, UTC], `customer_id` int64,
  `churn_probability` float64, `label` int64, `model_name`, `model_version`, `model_alias`,
  `run_id`, `code_commit` strings, `request_id` string (nullable),
  `served_by` string: `champion`, `challenger` or `shadow`,
  `violations` string (nullable): the features outside the version's reference expectations,
  comma-separated; "" when every feature passed, null when the version had no reference profile
  (or the row predates the check);
- then one column per feature, named exactly as the feature, holding the value as logged
  (int64, float64 or string; null where the feature was absent);
- then the feedback: `outcome` int64 and `observed_at` timestamp[us, UTC], null without feedback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from keel.atomic_files import atomic_path
from serving.prediction_log import PREDICTION_COLUMNS, PredictionLog

TIMESTAMP = pa.timestamp("us", tz="UTC")
FIXED_SCHEMA = pa.schema(
    [
        ("prediction_id", pa.string()),
        ("created_at", TIMESTAMP),
        ("customer_id", pa.int64()),
        ("churn_probability", pa.float64()),
        ("label", pa.int64()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("model_alias", pa.string()),
        ("run_id", pa.string()),
        ("code_commit", pa.string()),
        ("request_id", pa.string()),
        ("served_by", pa.string()),
        ("violations", pa.string()),
    ]
)
FEEDBACK_SCHEMA = pa.schema([("outcome", pa.int64()), ("observed_at", TIMESTAMP)])


def _feature_type(values: Iterable[Any]) -> pa.DataType:
    """int64 if every present value is an integer, float64 if numeric, else string."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.float64()
    return pa.string()


def _as_type(values: list[Any], kind: pa.DataType) -> list[Any]:
    if kind == pa.string():
        return [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values]
    return values


def log_table(rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows of `PredictionLog.export_sql()` as an Arrow table with the contract's schema."""
    fixed = {name: [row[i] for row in rows] for i, name in enumerate(PREDICTION_COLUMNS)}
    features = [json.loads(text) for text in fixed.pop("features")]
    names: dict[str, None] = {}
    for values in features:
        names.update(dict.fromkeys(values))
    clashes = set(names) & (set(FIXED_SCHEMA.names) | set(FEEDBACK_SCHEMA.names))
    if clashes:
        raise ValueError(f"feature names {sorted(clashes)} clash with prediction log columns")
    n = len(PREDICTION_COLUMNS)
    columns: dict[str, pa.Array] = {
        field.name: pa.array(fixed[field.name], type=field.type)
        for field in FIXED_SCHEMA
        if field.name != "created_at"
    }
    columns["created_at"] = pa.array(fixed["created_at"], type=pa.int64()).cast(TIMESTAMP)
    for name in names:
        values = [row.get(name) for row in features]
        kind = _feature_type(values)
        columns[name] = pa.array(_as_type(values, kind), type=kind)
    columns["outcome"] = pa.array([row[n] for row in rows], type=pa.int64())
    columns["observed_at"] = pa.array([row[n + 1] for row in rows], type=pa.int64()).cast(TIMESTAMP)
    order = [*FIXED_SCHEMA.names, *names, *FEEDBACK_SCHEMA.names]
    return pa.table({name: columns[name] for name in order})


def export_parquet(log: PredictionLog, out: Path) -> int:
    """Write the whole log (with feedback) to `out`; returns the number of rows."""
    table = log_table(list(log.query(log.export_sql())))
    with atomic_path(out) as tmp:
        pq.write_table(table, tmp)
    return table.num_rows


@dataclass(frozen=True)
class VersionStats:
    model_name: str
    model_version: str
    served_by: str
    predictions: int
    with_feedback: int

    @property
    def feedback_coverage(self) -> float:
        return self.with_feedback / self.predictions if self.predictions else 0.0


def log_stats(log: PredictionLog) -> list[VersionStats]:
    """Prediction counts and feedback coverage per model version and serving role."""
    return [
        VersionStats(str(name), str(version), str(role), int(total), int(answered))
        for name, version, role, total, answered in log.query(log.stats_sql())
    ]

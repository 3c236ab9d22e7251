"""The prediction log as Parquet (queryable with DuckDB) and its summary statistics.

Parquet columns, in this order (the monitoring contract; derived from `log_columns`):

- `prediction_id` string, `created_at` timestamp[us, UTC], `model_name`, `model_version`,
  `model_alias`, `run_id`, `code_commit` strings, `request_id` string (nullable),
  `served_by` string: `champion`, `challenger` or `shadow`,
  `entity_key` string: the canonical JSON of the entity's join keys (`{"driver_id":1001}`);
- when every exported row is of one model (always with `--model`): one column per join key,
  named as the key (int64, float64 or string, as logged);
- `task` string (`binary` or `regression`), `score` float64 (binary: the probability of class 1;
  regression: the prediction), `label` int64 (binary: the served label; null for regression),
  `violations` string (nullable): the features outside the version's reference expectations,
  comma-separated; "" when every feature passed, null when the version had no reference profile
  (or the row predates the check);
- then one column per feature, named exactly as the feature, holding the value as logged
  (int64, float64 or string; null where the feature was absent);
- then the feedback: `outcome` float64 and `observed_at` timestamp[us, UTC], null without feedback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from keel.core.atomic_files import atomic_path
from serving.log_columns import FEEDBACK_EXPORTED, PREDICTION_COLUMNS, PREDICTION_NAMES, TIMESTAMP
from serving.prediction_log import PredictionLog

FIXED_SCHEMA = pa.schema([(c.name, c.arrow) for c in PREDICTION_COLUMNS if c.arrow is not None])
FEEDBACK_SCHEMA = pa.schema([(c.name, c.arrow) for c in FEEDBACK_EXPORTED])
KEYS_AFTER = "entity_key"
"""Join-key columns (one model's export) follow this column."""


def _value_type(values: Iterable[Any]) -> pa.DataType:
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


def _typed(values: list[Any]) -> pa.Array:
    kind = _value_type(values)
    return pa.array(_as_type(values, kind), type=kind)


def _names(dicts: Iterable[dict[str, Any]]) -> list[str]:
    """Every key of `dicts`, in order of first appearance."""
    names: dict[str, None] = {}
    for values in dicts:
        names.update(dict.fromkeys(values))
    return list(names)


def log_table(rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows of `PredictionLog.export_sql()` as an Arrow table with the contract's schema."""
    fixed = {name: [row[i] for row in rows] for i, name in enumerate(PREDICTION_NAMES)}
    features = [json.loads(text) for text in fixed["features"]]
    feature_names = _names(features)
    key_names: list[str] = []
    entities: list[dict[str, Any]] = []
    if len(set(fixed["model_name"])) == 1:
        entities = [json.loads(text) for text in fixed["entity_key"]]
        key_names = _names(entities)
    taken = set(FIXED_SCHEMA.names) | set(FEEDBACK_SCHEMA.names)
    clashes = (set(feature_names) | set(key_names)) & taken
    clashes |= set(feature_names) & set(key_names)
    if clashes:
        raise ValueError(
            f"feature or join key names {sorted(clashes)} clash with prediction log columns"
        )
    columns: dict[str, pa.Array] = {}
    for field in FIXED_SCHEMA:
        if field.type == TIMESTAMP:
            columns[field.name] = pa.array(fixed[field.name], type=pa.int64()).cast(TIMESTAMP)
        else:
            columns[field.name] = pa.array(fixed[field.name], type=field.type)
    for name in key_names:
        columns[name] = _typed([entity.get(name) for entity in entities])
    for name in feature_names:
        columns[name] = _typed([row.get(name) for row in features])
    n = len(PREDICTION_NAMES)
    for i, field in enumerate(FEEDBACK_SCHEMA):
        values = [row[n + i] for row in rows]
        if field.type == TIMESTAMP:
            columns[field.name] = pa.array(values, type=pa.int64()).cast(TIMESTAMP)
        else:
            columns[field.name] = pa.array(values, type=field.type)
    at = FIXED_SCHEMA.names.index(KEYS_AFTER) + 1
    fixed_names = FIXED_SCHEMA.names
    order = [
        *fixed_names[:at],
        *key_names,
        *fixed_names[at:],
        *feature_names,
        *FEEDBACK_SCHEMA.names,
    ]
    return pa.table({name: columns[name] for name in order})


def export_parquet(log: PredictionLog, out: Path, *, model: str | None = None) -> int:
    """Write the log (with feedback), or the predictions of `model`, to `out`; returns the
    number of rows."""
    params = (model,) if model is not None else ()
    table = log_table(list(log.query(log.export_sql(model), params)))
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

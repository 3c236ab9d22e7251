"""Batch scoring (`keel score`): point-in-time features from the offline store, the champion's
scores, every score logged with its model version, and a Parquet file of the results.

Output columns: customer_id, prediction_id, churn_probability, label, model_name,
model_version, as_of (timestamp[us, UTC]), error (null, or why the customer was not scored).
The log records share the request id `batch:<id>` so the batch can be found in the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from keel.atomic_files import atomic_path
from keel.errors import InvalidInput
from keel.feature_store import open_store, require_feature_service
from keel.input_files import Column, TableSchema, read_input
from keel.provenance import code_commit
from keel.settings import Settings
from registry.client import mlflow_client
from serving.ids import new_prediction_id
from serving.model_cache import ModelCache
from serving.online_features import REQUEST_FIELD, stored_feature_names
from serving.prediction_log import PredictionRecord, open_prediction_log
from training.dataset import normalise_entity_frame

TIMESTAMP = "event_timestamp"
KEY = "customer_id"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    model_name: str
    model_version: str
    scored: int
    unknown: int
    output: Path


CUSTOMERS = TableSchema(columns=(Column(KEY, "integer"),), unique=(KEY,))
"""`keel score --input`: a `customer_id` column, each customer once (a duplicate is refused: it
usually means the file is not the list the user meant); other columns are ignored."""


def read_customers(path: Path) -> list[int]:
    """The customer ids, in file order, of a Parquet or CSV file with a `customer_id` column of
    distinct whole positive numbers; `InvalidInput` naming the file and the column."""
    ids = read_input(path, CUSTOMERS, role="--input")[KEY]
    if (ids < 1).any():
        row = int((ids < 1).to_numpy().argmax()) + 1
        raise InvalidInput(
            f"--input {path}: column {KEY!r} should hold positive integers, "
            f"found {int(ids[row - 1])} (row {row})"
        )
    return [int(i) for i in ids.tolist()]


def parse_as_of(text: str) -> datetime:
    """`--as-of` as a zone-aware time, or `InvalidInput` naming the option (Keel never guesses a
    zone: the same wall-clock time is a different moment in each)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"--as-of {text!r}: expected an ISO 8601 time with a zone, e.g. 2026-11-30T00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(
            f"--as-of {text!r}: give a time zone, e.g. {moment.isoformat(timespec='minutes')}Z"
        )
    return moment


def _ignore(done: int, total: int) -> None:
    return None


def score_customers(
    settings: Settings,
    *,
    customers: list[int],
    as_of: datetime,
    output: Path,
    chunk_size: int = 2000,
    on_progress: Progress = _ignore,
) -> BatchSummary:
    """Score `customers` as of `as_of` with the champion; log every score; write `output`."""
    if as_of.tzinfo is None:
        raise InvalidInput(f"--as-of {as_of.isoformat()}: give a time zone, e.g. ...Z")
    store = open_store(settings)
    service = require_feature_service(store, settings.feature_service)
    stored = stored_feature_names(store, service)
    cache = ModelCache(mlflow_client(settings), settings.model_name)
    cache.refresh()
    served = cache.current.champion  # type: ignore[union-attr]
    model = served.model
    batch_id = new_prediction_id()
    commit = code_commit()
    log = open_prediction_log(settings)
    results: list[dict[str, Any]] = []
    on_progress(0, len(customers))  # everything is open: the scoring itself starts
    try:
        for start in range(0, len(customers), chunk_size):
            chunk = customers[start : start + chunk_size]
            entities = normalise_entity_frame(
                pd.DataFrame({KEY: chunk, TIMESTAMP: as_of, REQUEST_FIELD: int(as_of.timestamp())})
            )
            frame = store.get_historical_features(entity_df=entities, features=service).to_df()
            rows = {int(row[KEY]): row for row in frame.to_dict("records")}  # one row per customer
            known = [c for c in chunk if any(pd.notna(rows[c].get(n)) for n in stored)]
            feature_rows = [
                {n: _plain(rows[c].get(n)) for n in model.feature_columns} for c in known
            ]
            probabilities = served.scorer(feature_rows) if feature_rows else []
            records = []
            for customer, features, probability in zip(
                known, feature_rows, probabilities, strict=True
            ):
                record = served.record(
                    entity={KEY: customer},
                    score=probability,
                    features=features,
                    created_at=as_of,
                    code_commit=commit,
                    request_id=f"batch:{batch_id}",
                    served_by="champion",
                )
                records.append(record)
            log.append(records)
            by_customer = {r.entity[KEY]: r for r in records}
            for customer in chunk:
                found = by_customer.get(customer)
                results.append(_result(customer, found, model.name, model.version, as_of))
            on_progress(min(start + chunk_size, len(customers)), len(customers))
    finally:
        log.close()
    _write(pd.DataFrame(results), output)
    unknown = sum(1 for r in results if r["error"] is not None)
    return BatchSummary(
        batch_id, model.name, model.version, len(results) - unknown, unknown, output
    )


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _result(
    customer: int, record: PredictionRecord | None, name: str, version: str, as_of: datetime
) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "prediction_id": record.prediction_id if record else None,
        "churn_probability": record.score if record else None,
        "label": record.label if record else None,
        "model_name": name,
        "model_version": version,
        "as_of": as_of,
        "error": None if record else "unknown customer: no features as of this time",
    }


def _write(frame: pd.DataFrame, output: Path) -> None:
    frame = frame.astype({"churn_probability": "float64", "label": "Int64"})
    frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True).astype("datetime64[us, UTC]")
    with atomic_path(output) as tmp:
        frame.to_parquet(tmp, index=False)

"""Training frames from Feast: point-in-time features for labelled snapshots."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from feast import FeatureStore
from feast import feature_store as feast_feature_store

from keel.feast_plumbing.entity_times import UTC_MICROSECONDS, utc_microseconds
from training.labels import TIMESTAMP


@dataclass(frozen=True)
class TrainingFrame:
    """Labelled snapshots joined with their features, and the feature column names."""

    frame: pd.DataFrame
    feature_columns: list[str]
    feature_service: str


def normalise_entity_frame(entities: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as UTC microseconds (nanoseconds floored): Feast's stock DuckDB store rejects
    nanosecond precision, and Keel's reads a row at 12:00:00.000000999 as 12:00:00. A frame
    already so is returned as it is (Feast copies the frame it is given anyway)."""
    if entities[TIMESTAMP].dtype == UTC_MICROSECONDS:
        return entities
    return entities.assign(**{TIMESTAMP: utc_microseconds(entities[TIMESTAMP])})


def sort_rows(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Rows by (snapshot time, join keys in order): Feast returns them in no fixed order, and a
    frame's digest must not depend on it. (A lexsort: about 2x faster than sort_values.)"""
    times = frame[TIMESTAMP].astype("int64").to_numpy()
    order = np.lexsort((*(frame[key].to_numpy() for key in reversed(keys)), times))
    out = frame.take(order)
    out.index = pd.RangeIndex(len(out))
    return out


def sorted_table(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """`sort_rows` on Feast's Arrow result, before pandas: the same stable order, and Arrow's
    `take` moves string columns as buffers where pandas moves one Python object per cell."""
    sort_keys = [(TIMESTAMP, "ascending"), *((key, "ascending") for key in keys)]
    order = pc.sort_indices(table, sort_keys=sort_keys)
    return table.take(order)


def _mlflow_run_active() -> bool:
    """Whether an MLflow run is active; a process that never imported MLflow has none."""
    mlflow = sys.modules.get("mlflow")
    return mlflow is not None and mlflow.active_run() is not None


@contextmanager
def feast_lineage_only_in_a_run(store: FeatureStore) -> Iterator[None]:
    """Let Feast's MLflow auto-logging run only when an MLflow run is active.

    Feast tags the active run with the lineage (`feast.feature_service`, `feast.feature_refs`,
    which `feast_features.json` and the version's tag come from) but, asked with no run, it
    still builds its MLflow client first: `import mlflow` and a tracking store, about 2.5 s of
    a 1M-row training set spent to log nothing. With no run and no client yet, Feast is told
    it has none for this one call (`FeatureStore.mlflow` reads `_mlflow_client`), so its
    client is built later, when a run wants it.
    """
    unset = getattr(feast_feature_store, "_UNSET", None)
    idle = unset is not None and store._mlflow_client is unset and not _mlflow_run_active()
    if idle:
        store._mlflow_client = None
    try:
        yield
    finally:
        if idle:
            store._mlflow_client = unset


def join_keys(store: FeatureStore, feature_service: str) -> list[str]:
    """The service's join keys as Feast resolves them (the training frame is sorted by them)."""
    from keel.feast_plumbing.project_checks import service_schema

    schema = service_schema(store, store.get_feature_service(feature_service))
    return [key.name for key in schema.join_keys]


def build_training_frame(
    store: FeatureStore, entities: pd.DataFrame, *, feature_service: str
) -> TrainingFrame:
    """Features of `feature_service` as of each entity row's timestamp (Feast, point in time)."""
    service = store.get_feature_service(feature_service)
    with feast_lineage_only_in_a_run(store):
        job = store.get_historical_features(
            entity_df=normalise_entity_frame(entities), features=service
        )
    keys = join_keys(store, feature_service)
    table = job.to_arrow()
    if getattr(job, "row_order", ())[: len(keys) + 1] != (TIMESTAMP, *keys):
        table = sorted_table(table, keys)  # Keel's offline store returns them in this order
    frame = table.to_pandas()
    feature_columns = [
        feature.name
        for projection in service.feature_view_projections
        for feature in projection.features
    ]
    return TrainingFrame(
        frame=frame, feature_columns=feature_columns, feature_service=feature_service
    )

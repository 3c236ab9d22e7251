"""Training frames from Feast: point-in-time features for labelled snapshots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from feast import FeatureStore

from training.labels import TIMESTAMP

KEY = "customer_id"


@dataclass(frozen=True)
class TrainingFrame:
    """Labelled snapshots joined with their features, and the feature column names."""

    frame: pd.DataFrame
    feature_columns: list[str]
    feature_service: str


def normalise_entity_frame(entities: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as UTC microseconds: Feast's DuckDB store rejects nanosecond precision."""
    out = entities.copy()
    out[TIMESTAMP] = (
        pd.to_datetime(out[TIMESTAMP], utc=True).dt.floor("us").astype("datetime64[us, UTC]")
    )
    return out


def sort_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by (snapshot time, customer): Feast returns them in no fixed order, and a frame's
    digest must not depend on it. (An integer lexsort: about 2x faster than sort_values.)"""
    times = frame[TIMESTAMP].astype("int64").to_numpy()
    order = np.lexsort((frame[KEY].to_numpy(), times))
    out = frame.take(order)
    out.index = pd.RangeIndex(len(out))
    return out


def categorical_features(store: FeatureStore, feature_service: str) -> list[str]:
    """The service's features Keel one-hot (or ordinal) encodes: those of Feast type `String`."""
    from keel.project_checks import service_schema

    schema = service_schema(store, store.get_feature_service(feature_service))
    return [f.name for f in schema.usable if f.kind == "categorical"]


def build_training_frame(
    store: FeatureStore, entities: pd.DataFrame, *, feature_service: str
) -> TrainingFrame:
    """Features of `feature_service` as of each entity row's timestamp (Feast, point in time)."""
    service = store.get_feature_service(feature_service)
    job = store.get_historical_features(
        entity_df=normalise_entity_frame(entities), features=service
    )
    frame = job.to_df()
    feature_columns = [
        feature.name
        for projection in service.feature_view_projections
        for feature in projection.features
    ]
    frame = sort_rows(frame)
    return TrainingFrame(
        frame=frame, feature_columns=feature_columns, feature_service=feature_service
    )

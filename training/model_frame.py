"""The training frame of a keel.yaml model: its label table joined point in time with the
declared features of its feature service (Feast's `get_historical_features`).

The frame holds the join keys, `event_timestamp`, the service's usable features (exactly those
it declares: Feast's historical retrieval also returns an on-demand view's undeclared outputs,
the request fields and any other column of the entity frame, none of which the online read of
the service gives serving) and the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from feast import FeatureStore

from keel.errors import InvalidProject
from keel.project_checks import ModelSummary
from training.dataset import normalise_entity_frame
from training.labels import TIMESTAMP


@dataclass(frozen=True)
class ModelFrame:
    """Labelled rows with their point-in-time features, and what each column is."""

    frame: pd.DataFrame
    keys: list[str]
    features: list[str]
    categorical: list[str]
    label: str


def entity_frame(summary: ModelSummary, labels: pd.DataFrame) -> pd.DataFrame:
    """What Feast needs of the label table (keys, request fields, the timestamp renamed to
    `event_timestamp` in UTC microseconds) and the label; other columns left out."""
    model, service = summary.model, summary.service
    columns = [
        *(k.name for k in service.join_keys),
        model.timestamp,
        *(f.name for f in service.request_fields),
        model.label,
    ]
    entities = labels[list(dict.fromkeys(columns))].rename(columns={model.timestamp: TIMESTAMP})
    return normalise_entity_frame(entities)


def build_model_frame(
    store: FeatureStore, summary: ModelSummary, labels: pd.DataFrame
) -> ModelFrame:
    """The label rows with the service's declared, usable features as of each row's time."""
    model, service = summary.model, summary.service
    features = [f.name for f in service.usable]
    keys = [k.name for k in service.join_keys]
    clash = sorted({*keys, TIMESTAMP, model.label} & set(features))
    if clash:
        raise InvalidProject(
            f"model {model.name!r}: feature service {service.name!r} has feature(s) named like "
            f"a key, the timestamp or the label: {', '.join(clash)} (rename one of them)"
        )
    job = store.get_historical_features(
        entity_df=entity_frame(summary, labels),
        features=store.get_feature_service(service.name),
    )
    frame = job.to_df()
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise InvalidProject(
            f"model {model.name!r}: Feast's historical retrieval of {service.name!r} lacks "
            f"{', '.join(missing)}"
        )
    frame = frame[[*keys, TIMESTAMP, *features, model.label]]
    frame = frame.sort_values([TIMESTAMP, *keys], kind="stable", ignore_index=True)
    categorical = [f.name for f in service.usable if f.kind == "categorical"]
    return ModelFrame(
        frame=frame, keys=keys, features=features, categorical=categorical, label=model.label
    )

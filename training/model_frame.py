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

from keel.core.errors import InvalidProject
from keel.core.project import ModelSpec
from keel.feast_plumbing.project_checks import ModelSummary, ServiceSchema
from training.dataset import feast_lineage_only_in_a_run, normalise_entity_frame, sorted_table
from training.labels import TIMESTAMP


@dataclass(frozen=True)
class ModelFrame:
    """Labelled rows with their point-in-time features, and what each column is."""

    frame: pd.DataFrame
    keys: list[str]
    features: list[str]
    categorical: list[str]
    label: str


def entity_frame(model: ModelSpec, service: ServiceSchema, labels: pd.DataFrame) -> pd.DataFrame:
    """What Feast needs of the label table (keys, request fields, the timestamp renamed to
    `event_timestamp` in UTC microseconds) and the label; other columns left out."""
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
    """The label rows of a checked model with its service's declared, usable features."""
    return model_frame(store, summary.model, summary.service, labels)


def model_frame(
    store: FeatureStore, model: ModelSpec, service: ServiceSchema, labels: pd.DataFrame
) -> ModelFrame:
    """The label rows with the service's declared, usable features as of each row's time,
    sorted by (time, join keys)."""
    features = [f.name for f in service.usable]
    keys = [k.name for k in service.join_keys]
    clash = sorted({*keys, TIMESTAMP, model.label} & set(features))
    if clash:
        raise InvalidProject(
            f"model {model.name!r}: feature service {service.name!r} has feature(s) named like "
            f"a key, the timestamp or the label: {', '.join(clash)} (rename one of them)"
        )
    with feast_lineage_only_in_a_run(store):
        job = store.get_historical_features(
            entity_df=entity_frame(model, service, labels),
            features=store.get_feature_service(service.name),
        )
    table = job.to_arrow()
    missing = [name for name in features if name not in table.column_names]
    if missing:
        raise InvalidProject(
            f"model {model.name!r}: Feast's historical retrieval of {service.name!r} lacks "
            f"{', '.join(missing)}"
        )
    columns = [*keys, TIMESTAMP, *features, model.label]
    frame = sorted_table(table.select(columns), keys).to_pandas()
    categorical = [f.name for f in service.usable if f.kind == "categorical"]
    return ModelFrame(
        frame=frame, keys=keys, features=features, categorical=categorical, label=model.label
    )

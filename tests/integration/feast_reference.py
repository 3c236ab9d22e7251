"""Feast's own online answer, in the `FeatureSource` shape the direct reads return."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from feast import FeatureStore


def feast_rows(
    store: FeatureStore, service: str, entities: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any] | None]:
    """`get_online_features` per entity: the service's features (join keys and request fields
    left out), None when none of its stored (not on-demand) features has a value."""
    feature_service = store.get_feature_service(service)
    on_demand = {view.name for view in store.list_on_demand_feature_views()}
    stored = [
        f.name
        for p in feature_service.feature_view_projections
        if p.name not in on_demand
        for f in p.features
    ]
    columns = store.get_online_features(
        features=feature_service, entity_rows=[dict(e) for e in entities]
    ).to_dict()
    given = {name for entity in entities for name in entity}
    out: list[dict[str, Any] | None] = []
    for i in range(len(entities)):
        row = {name: column[i] for name, column in columns.items() if name not in given}
        out.append(row if any(row[name] is not None for name in stored) else None)
    return out

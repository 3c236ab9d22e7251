"""Online features of one feature service, read through Feast."""

from __future__ import annotations

import time
from typing import Any

from feast import FeatureService, FeatureStore

from keel.errors import UnknownEntity

KEY = "customer_id"


class OnlineFeatures:
    """Looks up a customer's features; unknown customers raise `UnknownEntity`."""

    def __init__(self, store: FeatureStore, feature_service: str) -> None:
        self._store = store
        self._service: FeatureService = store.get_feature_service(feature_service)
        on_demand = {view.name for view in store.list_on_demand_feature_views()}
        self.stored_features = [
            f.name
            for p in self._service.feature_view_projections
            if p.name not in on_demand
            for f in p.features
        ]

    def get(self, customer_id: int, *, as_of_unix: int | None = None) -> dict[str, Any]:
        """Feature name -> value (None where absent) for one customer, as of now by default."""
        row = {KEY: customer_id, "as_of_unix": as_of_unix or int(time.time())}
        values = self._store.get_online_features(
            features=self._service, entity_rows=[row]
        ).to_dict()
        features = {name: column[0] for name, column in values.items() if name != KEY}
        features.pop("as_of_unix", None)
        if all(features.get(name) is None for name in self.stored_features):
            raise UnknownEntity(
                f"customer_id {customer_id} has no online features: unknown customer"
            )
        return features

"""Online features of one feature service, read through Feast.

`FeatureSource` is what the predictor needs: feature values per customer, None for a customer
without any stored feature (unknown). `FeastOnlineFeatures` is the reference implementation;
`direct_features.py` reads Feast's SQLite online store faster, in Feast's own format.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import redis
from feast import FeatureService, FeatureStore

from keel.errors import OnlineStoreUnavailable, UnknownEntity

KEY = "customer_id"
REQUEST_FIELD = "as_of_unix"
"""The request-time field of the on-demand view (Feast `RequestSource` `request_context`)."""

Features = dict[str, Any]

STORE_DOWN_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
"""What an online store that is down or too slow raises (redis-py, under Feast or directly)."""


def store_unavailable(where: str, error: Exception) -> OnlineStoreUnavailable:
    """The 503 a request gets when the online store `where` did not answer."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
    detail = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
    return OnlineStoreUnavailable(
        f"the online store ({where}) is unreachable ({detail}); nothing was answered, retry"
    )


@contextmanager
def online_store_errors(where: str) -> Iterator[None]:
    """Turn the online store's connection errors and timeouts into `OnlineStoreUnavailable`."""
    try:
        yield
    except STORE_DOWN_ERRORS as error:
        raise store_unavailable(where, error) from error


class FeatureSource(Protocol):
    stored_features: list[str]

    def get_many(
        self, customer_ids: Sequence[int], *, as_of_unix: int | None = None
    ) -> list[Features | None]:
        """Feature name -> value (None where absent) per customer; None for unknown customers."""
        ...


def stored_feature_names(store: FeatureStore, service: FeatureService) -> list[str]:
    on_demand = {view.name for view in store.list_on_demand_feature_views()}
    return [
        f.name
        for p in service.feature_view_projections
        if p.name not in on_demand
        for f in p.features
    ]


class FeastOnlineFeatures:
    """`FeatureStore.get_online_features` for the service (works with every online store)."""

    def __init__(self, store: FeatureStore, feature_service: str) -> None:
        self._store = store
        self._service: FeatureService = store.get_feature_service(feature_service)
        self.stored_features = stored_feature_names(store, self._service)
        self._where = f"Feast {store.config.online_store.type} online store"

    def get_many(
        self, customer_ids: Sequence[int], *, as_of_unix: int | None = None
    ) -> list[Features | None]:
        as_of = int(time.time()) if as_of_unix is None else as_of_unix
        rows = [{KEY: customer_id, REQUEST_FIELD: as_of} for customer_id in customer_ids]
        with online_store_errors(self._where):
            columns = self._store.get_online_features(
                features=self._service, entity_rows=rows
            ).to_dict()
        out: list[Features | None] = []
        for i in range(len(customer_ids)):
            features = {
                name: column[i]
                for name, column in columns.items()
                if name not in (KEY, REQUEST_FIELD)
            }
            known = any(features.get(name) is not None for name in self.stored_features)
            out.append(features if known else None)
        return out


class OnlineFeatures(FeastOnlineFeatures):
    """One customer at a time; unknown customers raise `UnknownEntity`."""

    def get(self, customer_id: int, *, as_of_unix: int | None = None) -> Features:
        (features,) = self.get_many([customer_id], as_of_unix=as_of_unix)
        if features is None:
            raise UnknownEntity(
                f"customer_id {customer_id} has no online features: unknown customer"
            )
        return features

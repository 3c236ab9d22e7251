"""Online features of one feature service, read through Feast.

`FeatureSource` is what the predictor needs: the features of the service per entity (its join
keys and request fields), None for an entity without any stored feature (unknown).
`FeastOnlineFeatures` is the reference implementation for any service (any join keys, string or
int, composite; request fields passed to Feast's on-demand views); `direct_features.py` reads
Feast's online stores faster, in Feast's own format.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import redis
from feast import FeatureService, FeatureStore

from keel.core.errors import OnlineStoreUnavailable

REQUEST_FIELD = "as_of_unix"
"""A request field of this name (the built-in example's on-demand view reads it) gets the scoring
time when a request leaves it out."""

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
    service: str
    """The feature service's name."""
    join_keys: list[str]
    """In the service's order."""
    request_fields: list[str]
    """Of its on-demand views."""
    stored_features: list[str]

    def get_rows(
        self, entities: Sequence[Mapping[str, Any]], *, as_of_unix: int | None = None
    ) -> list[Features | None]:
        """One mapping per entity holding its join keys and request fields; a request field named
        `as_of_unix` missing from the mapping gets `as_of_unix` (default: now). Features of the
        service per entity; None for an entity without any stored feature (unknown)."""
        ...


def stored_feature_names(store: FeatureStore, service: FeatureService) -> list[str]:
    on_demand = {view.name for view in store.list_on_demand_feature_views()}
    return [
        f.name
        for p in service.feature_view_projections
        if p.name not in on_demand
        for f in p.features
    ]


def entity_rows(
    entities: Sequence[Mapping[str, Any]],
    join_keys: Sequence[str],
    request_fields: Sequence[str],
    as_of_unix: int | None,
) -> list[dict[str, Any]]:
    """Feast's entity rows: each entity's join keys and request fields, `as_of_unix` filled in."""
    as_of = int(time.time()) if as_of_unix is None else as_of_unix
    rows = []
    for entity in entities:
        row = {key: entity[key] for key in join_keys}
        for name in request_fields:
            row[name] = entity[name] if name in entity or name != REQUEST_FIELD else as_of
        rows.append(row)
    return rows


class FeastOnlineFeatures:
    """`FeatureStore.get_online_features` for any service (works with every online store)."""

    def __init__(self, store: FeatureStore, feature_service: str) -> None:
        from keel.feast_plumbing.project_checks import service_schema

        self._store = store
        self._service: FeatureService = store.get_feature_service(feature_service)
        schema = service_schema(store, self._service)
        self.service = feature_service
        self.join_keys = [key.name for key in schema.join_keys]
        self.request_fields = [field.name for field in schema.request_fields]
        self.stored_features = stored_feature_names(store, self._service)
        self._served = [f.name for p in self._service.feature_view_projections for f in p.features]
        self._where = f"Feast {store.config.online_store.type} online store"

    def get_rows(
        self, entities: Sequence[Mapping[str, Any]], *, as_of_unix: int | None = None
    ) -> list[Features | None]:
        if not entities:
            return []
        rows = entity_rows(entities, self.join_keys, self.request_fields, as_of_unix)
        with online_store_errors(self._where):
            columns = self._store.get_online_features(
                features=self._service, entity_rows=rows
            ).to_dict()
        out: list[Features | None] = []
        for i in range(len(rows)):
            features = {name: columns[name][i] for name in self._served if name in columns}
            known = any(features.get(name) is not None for name in self.stored_features)
            out.append(features if known else None)
        return out

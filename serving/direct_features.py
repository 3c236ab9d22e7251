"""Feast's online store read directly, in Feast's own key and value format.

SQLite: the same tables (`<project>_<view>`) and serialized entity keys; Redis: the same hashes
(entity key + project) and murmur3 field names. Values are Feast's `ValueProto`s, and the
on-demand view runs its own transform (the registry's copy of
`feature_repo.on_demand.customer_derived`) once per call on all its customers. It skips Feast's
per-call registry lookups and response building; tests prove the values equal
`FeatureStore.get_online_features`.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import redis
from feast import FeatureStore
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import feast_value_type_to_python_type
from redis.backoff import NoBackoff
from redis.retry import Retry

from keel.backends import redact_url
from keel.errors import WorkspaceNotReady
from serving.online_features import (
    KEY,
    REQUEST_FIELD,
    Features,
    online_store_errors,
    stored_feature_names,
)
from serving.row_transforms import RowTransform, verified_twin


def _plain(value: Any) -> Any:
    """NaN (pandas' missing value) as None, like Feast's response."""
    return None if isinstance(value, float) and math.isnan(value) else value


_SCALARS = frozenset(
    {"int32_val", "int64_val", "float_val", "double_val", "string_val", "bool_val", "bytes_val"}
)


def _python_value(value: Value) -> Any:
    """Feast's Python value of a `ValueProto`; scalars read directly (the hot case)."""
    kind = value.WhichOneof("val")
    if kind is None or kind == "null_val":
        return None
    if kind in _SCALARS:
        return getattr(value, kind)
    return feast_value_type_to_python_type(value)


class DirectFeatures(ABC):
    """Reads the service's batch views (`_read`) and computes its on-demand views."""

    def __init__(self, store: FeatureStore, feature_service: str) -> None:
        config = store.config
        service = store.get_feature_service(feature_service)
        self.stored_features = stored_feature_names(store, service)
        self._key_version = config.entity_key_serialization_version
        on_demand = {view.name: view for view in store.list_on_demand_feature_views()}
        self._served = [f.name for p in service.feature_view_projections for f in p.features]
        # Batch views to read: the service's own, plus every input of its on-demand views.
        reads: dict[str, set[str]] = {}
        self._transforms: list[Callable[[pd.DataFrame], pd.DataFrame]] = []
        self._twins: list[RowTransform | None] = []
        for projection in service.feature_view_projections:
            if projection.name in on_demand:
                odfv = on_demand[projection.name]
                transformation = odfv.feature_transformation
                if transformation is None or not hasattr(transformation, "udf"):
                    raise ValueError(f"on-demand view {odfv.name} has no Python transform")
                self._transforms.append(transformation.udf)
                inputs = [
                    f.name
                    for source in odfv.source_feature_view_projections.values()
                    for f in source.features
                ]
                inputs += [f.name for s in odfv.source_request_sources.values() for f in s.schema]
                self._twins.append(verified_twin(odfv.name, transformation.udf, inputs))
                for source in odfv.source_feature_view_projections.values():
                    reads.setdefault(source.name, set()).update(f.name for f in source.features)
            else:
                reads.setdefault(projection.name, set()).update(f.name for f in projection.features)
        self._reads = reads
        self._project = config.project

    @abstractmethod
    def _read(self, keys: list[bytes]) -> dict[bytes, dict[str, Any]]:
        """Serialized entity key -> {feature: value} of the stored features found."""

    def close(self) -> None:
        return None

    def _key(self, customer_id: int) -> bytes:
        key = EntityKey(join_keys=[KEY], entity_values=[Value(int64_val=customer_id)])
        return serialize_entity_key(key, entity_key_serialization_version=self._key_version)

    def get_many(
        self, customer_ids: Sequence[int], *, as_of_unix: int | None = None
    ) -> list[Features | None]:
        as_of = int(time.time()) if as_of_unix is None else as_of_unix
        keys = [self._key(customer_id) for customer_id in customer_ids]
        found = self._read(keys) if keys else {}
        known = [key for key in keys if any(v is not None for v in found.get(key, {}).values())]
        rows: dict[bytes, dict[str, Any]] = {key: dict(found[key]) for key in known}
        if self._transforms and rows and all(self._twins):
            for row in rows.values():
                row[REQUEST_FIELD] = as_of
                for twin in self._twins:
                    assert twin is not None
                    row.update({name: _plain(value) for name, value in twin(row).items()})
        elif self._transforms and rows:
            inputs = pd.DataFrame(list(rows.values()))
            inputs[REQUEST_FIELD] = as_of
            for transform in self._transforms:
                derived = transform(inputs)
                columns = {str(name): derived[name].tolist() for name in derived.columns}
                for i, key in enumerate(rows):
                    for name, values in columns.items():
                        rows[key][name] = _plain(values[i])
        return [
            {name: rows[key].get(name) for name in self._served} if key in rows else None
            for key in keys
        ]


class DirectSqliteFeatures(DirectFeatures):
    """Feast's SQLite online store file, opened read-only."""

    def __init__(self, store: FeatureStore, feature_service: str) -> None:
        super().__init__(store, feature_service)
        config = store.config
        if config.online_store.type != "sqlite":
            raise ValueError(f"expected a sqlite online store, got {config.online_store.type!r}")
        self._tables = {f"{self._project}_{view}": names for view, names in self._reads.items()}
        path = Path(config.online_store.path)
        if not path.is_absolute():
            path = Path(store.repo_path) / path
        if not path.exists():
            raise WorkspaceNotReady(
                f"online store {path} is missing: run `keel features materialize` first"
            )
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def _read(self, keys: list[bytes]) -> dict[bytes, dict[str, Any]]:
        marks = ",".join("?" * len(keys))
        found: dict[bytes, dict[str, Any]] = {}
        with self._lock:
            for table, names in self._tables.items():
                rows = self._db.execute(
                    f'SELECT entity_key, feature_name, value FROM "{table}" '
                    f"WHERE entity_key IN ({marks})",
                    keys,
                ).fetchall()
                for key, name, blob in rows:
                    if name in names:
                        value = Value()
                        value.ParseFromString(blob)
                        found.setdefault(key, {})[name] = _python_value(value)
        return found

    def close(self) -> None:
        with self._lock:
            self._db.close()


def redis_client(url: str, *, timeout: float) -> redis.Redis:
    """A client that gives up after `timeout` seconds to connect or to answer, retrying once
    at once (a pooled connection broken by a Redis restart reconnects on that retry), so a
    request waits at most about twice `timeout` for a Redis that is down."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=0,
    )


class DirectRedisFeatures(DirectFeatures):
    """Feast's Redis online store: one pipelined HMGET per customer and view."""

    def __init__(self, store: FeatureStore, feature_service: str, client: redis.Redis) -> None:
        super().__init__(store, feature_service)
        self._client = client
        pool = client.connection_pool.connection_kwargs
        address = f"redis://{pool.get('host', '?')}:{pool.get('port', '?')}/{pool.get('db', 0)}"
        self._where = f"Redis at {redact_url(address)}"
        self._fields = {
            view: (sorted(names), [_mmh3(f"{view}:{name}") for name in sorted(names)])
            for view, names in self._reads.items()
        }

    def _read(self, keys: list[bytes]) -> dict[bytes, dict[str, Any]]:
        suffix = self._project.encode()
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            for _, fields in self._fields.values():
                pipe.hmget(key + suffix, fields)
        with online_store_errors(self._where):
            replies = iter(pipe.execute())
        found: dict[bytes, dict[str, Any]] = {}
        for key in keys:
            for names, _ in self._fields.values():
                for name, blob in zip(names, next(replies), strict=True):
                    if blob:
                        value = Value()
                        value.ParseFromString(blob)
                        found.setdefault(key, {})[name] = _python_value(value)
        return found

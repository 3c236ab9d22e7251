"""Feast's online store read directly, in Feast's own key and value format, for any service.

SQLite: the same tables (`<project>_<view>`) and serialized entity keys; Redis: the same hashes
(entity key + project) and murmur3 field names. Any join keys (string or int, composite keys,
several entities in one service) are serialized as Feast serializes them
(`keel.feast_plumbing.online_keys`); values are Feast's `ValueProto`s; on-demand views run as
Feast runs them
(`serving.on_demand_views`), on the same input columns. It skips Feast's per-call registry
lookups and response building; tests prove the values equal `FeatureStore.get_online_features`.
"""

from __future__ import annotations

import sqlite3
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from feast import FeatureStore, FeatureView
from feast.infra.online_stores.helpers import _mmh3, compute_table_id
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import feast_value_type_to_python_type
from feast.value_type import ValueType
from redis.backoff import NoBackoff
from redis.retry import Retry

from keel.core.backends import redact_url
from keel.core.errors import InvalidInput, WorkspaceNotReady
from keel.feast_plumbing.online_keys import EntityKeyEncoder, redis_key_suffix
from serving.on_demand_views import DirectReadsUnsupported, OnDemandView, feast_values
from serving.online_features import Features, online_store_errors
from serving.row_transforms import repo_row_twins

AS_OF_FIELD = "as_of_unix"
"""The request field filled with the call's `as_of_unix` (default: now) when a row lacks it."""

SQLITE_BATCH = 500
"""Entity keys per SQLite query (below SQLite's limit on bound parameters)."""

SQLITE_READ_PRAGMAS = ("PRAGMA mmap_size = 268435456", "PRAGMA cache_size = -65536")
"""The read-only online-store connection maps the file (up to 256 MiB: pages are read from the
OS page cache without a copy) and caches up to 64 MiB of pages (SQLite's default 2 MiB does not
hold the views' tables and indexes together: a batch evicted the pages of the next view)."""

_SCALARS = frozenset(
    {"int32_val", "int64_val", "float_val", "double_val", "string_val", "bool_val", "bytes_val"}
)
_PYTHON_TYPES: dict[ValueType, type] = {
    ValueType.STRING: str,
    ValueType.INT64: int,
    ValueType.INT32: int,
}


def _python_value(value: Value) -> Any:
    """Feast's Python value of a `ValueProto`; scalars read directly (the hot case)."""
    kind = value.WhichOneof("val")
    if kind is None or kind == "null_val":
        return None
    if kind in _SCALARS:
        return getattr(value, kind)
    return feast_value_type_to_python_type(value)


_DOUBLE = struct.Struct("<d").unpack_from
_DOUBLE_TAG = 0x29  # field 5 (double_val), 8-byte little-endian
_INT64_TAG = 0x20  # field 4 (int64_val), varint
_STRING_TAG = 0x12  # field 2 (string_val), length-delimited
_TWO_TO_64 = 1 << 64


def _int64(blob: bytes) -> int | None:
    """The int64 of a varint filling `blob[1:]` exactly; None when it does not (malformed)."""
    value = 0
    shift = 0
    last = len(blob) - 1
    for i in range(1, len(blob)):
        byte = blob[i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if i != last or value >= _TWO_TO_64:
                return None
            return value - _TWO_TO_64 if value >> 63 else value
        shift += 7
    return None


class ValueParser:
    """Parses stored `ValueProto` bytes into Feast's Python values, reusing one message.

    The kinds online stores hold most (a double, an int64, a short string: one field each) are
    read straight from the bytes; anything else, or bytes that are not exactly one such field,
    goes through protobuf (tests/unit/test_serving_value_parser.py proves both agree)."""

    def __init__(self) -> None:
        self._value = Value()
        self._parse = self._value.ParseFromString
        self._which = self._value.WhichOneof

    def __call__(self, blob: bytes) -> Any:
        size = len(blob)
        if size:
            tag = blob[0]
            if tag == _DOUBLE_TAG:
                if size == 9:
                    return _DOUBLE(blob, 1)[0]
            elif tag == _INT64_TAG:
                if size == 2 and blob[1] < 0x80:
                    return blob[1]
                number = _int64(blob)
                if number is not None:
                    return number
            elif tag == _STRING_TAG and size >= 2 and blob[1] == size - 2:
                try:
                    return blob[2:].decode("utf-8")
                except UnicodeDecodeError:
                    pass  # protobuf's own error below
        return self._parse_message(blob)

    def _parse_message(self, blob: bytes) -> Any:
        self._parse(blob)
        kind = self._which("val")
        if kind in _SCALARS:
            return getattr(self._value, kind)
        return _python_value(self._value)


def _as_feast_converts(values: list[Any], kind: ValueType, what: str) -> list[Any]:
    """`values` as Feast's response holds them after its conversion to `kind` (UNKNOWN: inferred
    from the first value, as Feast does for request fields); unchanged when already plain."""
    expected = _PYTHON_TYPES.get(kind)
    if expected is not None and all(type(v) is expected for v in values):
        return values
    if kind == ValueType.UNKNOWN and values:
        first = type(values[0])
        if first in (int, str) and all(type(v) is first for v in values):
            return values
        if first is float and all(type(v) is float and v == v for v in values):
            return values
    try:
        return feast_values(values, kind)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidInput(f"{what}: {error}") from error


@dataclass
class ViewRead:
    """The stored features read from one feature view, keyed by some of the row's columns."""

    view: str
    table: str
    columns: list[str]
    """The entity-row columns holding the view's join keys (after any join key map)."""
    encoder: EntityKeyEncoder
    features: list[str] = field(default_factory=list)


class DirectFeatures(ABC):
    """A `FeatureSource` for any feature service: reads its stored features (`_read`) and
    computes its on-demand views. `join_keys` (the service's, in its order), `request_fields`
    (of its on-demand views) and `stored_features` describe what `get_rows` needs and returns.
    Raises `DirectReadsUnsupported` for what it does not reproduce (stream or versioned views,
    on-demand views stored online, aggregating or substrait ones): use Feast's API for those."""

    def __init__(self, store: FeatureStore, feature_service: str) -> None:
        config = store.config
        if getattr(config.registry, "enable_online_feature_view_versioning", False):
            raise DirectReadsUnsupported("online feature view versioning is enabled")
        service = store.get_feature_service(feature_service)
        self.service = service.name
        self._project = config.project
        self._key_version = config.entity_key_serialization_version
        views = {view.name: view for view in store.list_feature_views()}
        on_demand = {view.name: view for view in store.list_on_demand_feature_views()}
        self._reads: dict[tuple[str, tuple[str, ...]], ViewRead] = {}
        self._key_types: dict[str, ValueType] = {}
        self._feature_types: dict[str, ValueType] = {}
        self._served = [f.name for p in service.feature_view_projections for f in p.features]
        self.stored_features = [
            f.name
            for p in service.feature_view_projections
            if p.name not in on_demand
            for f in p.features
        ]
        for projection in service.feature_view_projections:
            if projection.name not in on_demand:
                self._add_read(views, projection.name, projection.join_key_map, projection.features)
        odfv_projections = [p for p in service.feature_view_projections if p.name in on_demand]
        request_types: dict[str, ValueType] = {}
        for projection in odfv_projections:
            odfv = on_demand[projection.name]
            for source in odfv.source_feature_view_projections.values():
                self._add_read(views, source.name, source.join_key_map, source.features)
            for request in odfv.source_request_sources.values():
                for request_field in request.schema:
                    request_types[request_field.name] = request_field.dtype.to_value_type()
        self.join_keys = list(self._key_types)
        self.request_fields = list(request_types)
        twins = repo_row_twins(Path(store.repo_path)) if odfv_projections else {}
        self._on_demand = [
            OnDemandView(
                on_demand[p.name],
                [f.name for f in p.features],
                self._transform_inputs(
                    service.feature_view_projections, on_demand, p.name, request_types
                ),
                twins,
            )
            for p in odfv_projections
        ]

    def _add_read(
        self,
        views: Mapping[str, FeatureView],
        name: str,
        join_key_map: Mapping[str, str],
        features: Sequence[Any],
    ) -> None:
        view = views.get(name)
        if view is None:
            raise DirectReadsUnsupported(f"{name} is not a batch feature view")
        keys = [column.name for column in view.entity_columns]
        types = [column.dtype.to_value_type() for column in view.entity_columns]
        columns = [join_key_map.get(key, key) for key in keys]
        for column, kind in zip(columns, types, strict=True):
            self._key_types.setdefault(column, kind)
        read = self._reads.get((name, tuple(columns)))
        if read is None:
            read = self._reads[(name, tuple(columns))] = ViewRead(
                view=name,
                table=compute_table_id(self._project, view),
                columns=columns,
                encoder=EntityKeyEncoder(keys, types, version=self._key_version),
            )
        view_types = {f.name: f.dtype.to_value_type() for f in view.features}
        for feature in features:
            if feature.name in read.features:
                continue
            if feature.name in self._feature_types:
                raise DirectReadsUnsupported(f"feature {feature.name} is read from two views")
            read.features.append(feature.name)
            self._feature_types[feature.name] = view_types.get(feature.name, ValueType.UNKNOWN)

    def _transform_inputs(
        self,
        projections: Sequence[Any],
        on_demand: Mapping[str, Any],
        name: str,
        request_types: Mapping[str, ValueType],
    ) -> dict[str, ValueType]:
        """The columns Feast hands on-demand view `name`: the join keys, the request fields,
        then the features read minus those of views the transform does not declare
        (`feast.utils._augment_response_with_on_demand_transforms`'s rule)."""
        declared = {p.name for p in on_demand[name].source_feature_view_projections.values()}
        hidden: set[str] = set()
        for projection in projections:
            if projection.name not in on_demand and projection.name not in declared:
                hidden.update(f.name for f in projection.features)
        for projection in projections:
            if projection.name in on_demand:
                for source in on_demand[projection.name].source_feature_view_projections.values():
                    if source.name not in declared:
                        hidden.update(f.name for f in source.features)
        inputs = {**self._key_types, **request_types}
        for read in self._reads.values():
            for feature in read.features:
                if feature not in hidden:
                    inputs[feature] = self._feature_types[feature]
        return inputs

    @abstractmethod
    def _read(
        self, wanted: list[tuple[ViewRead, list[bytes]]]
    ) -> list[dict[bytes, dict[str, Any]]]:
        """Per (view, serialized entity keys): key -> {feature: value} of the features found."""

    def close(self) -> None:
        return None

    def _input_columns(
        self, entities: Sequence[Mapping[str, Any]], as_of_unix: int | None
    ) -> dict[str, list[Any]]:
        columns: dict[str, list[Any]] = {}
        for key, kind in self._key_types.items():
            values = []
            for i, entity in enumerate(entities):
                if entity.get(key) is None:
                    raise InvalidInput(f"entity {i}: join key {key!r} is missing")
                values.append(entity[key])
            columns[key] = _as_feast_converts(values, kind, f"join key {key!r}")
        as_of = int(time.time()) if as_of_unix is None else as_of_unix
        for name in self.request_fields:
            values = []
            for i, entity in enumerate(entities):
                if name in entity:
                    values.append(entity[name])
                elif name == AS_OF_FIELD:
                    values.append(as_of)
                else:
                    raise InvalidInput(f"entity {i}: request field {name!r} is missing")
            columns[name] = _as_feast_converts(values, ValueType.UNKNOWN, f"request field {name!r}")
        return columns

    @property
    def on_demand_paths(self) -> dict[str, str]:
        """How each on-demand view of the service is computed (`OnDemandView.path`)."""
        return {view.name: view.path for view in self._on_demand}

    def get_rows(
        self, entities: Sequence[Mapping[str, Any]], *, as_of_unix: int | None = None
    ) -> list[Features | None]:
        """The service's features per entity (join keys and request fields); None for an entity
        without any stored feature (unknown). A missing `as_of_unix` request field gets
        `as_of_unix` (default: now)."""
        size = len(entities)
        if not size:
            return []
        columns = self._input_columns(entities, as_of_unix)
        plan = [
            (
                read,
                [
                    read.encoder.encode(row)
                    for row in zip(*(columns[c] for c in read.columns), strict=True)
                ],
            )
            for read in self._reads.values()
        ]
        found = self._read([(read, list(dict.fromkeys(keys))) for read, keys in plan])
        for (read, keys), values in zip(plan, found, strict=True):
            rows = [values.get(key) or {} for key in keys]
            for name in read.features:
                columns[name] = [row.get(name) for row in rows]
        known = [
            any(columns[name][i] is not None for name in self.stored_features) for i in range(size)
        ]
        for view in self._on_demand:
            columns.update(view.compute(columns, size))
        return [
            {name: columns[name][i] for name in self._served} if known[i] else None
            for i in range(size)
        ]


class DirectSqliteFeatures(DirectFeatures):
    """Feast's SQLite online store file, opened read-only."""

    def __init__(self, store: FeatureStore, feature_service: str) -> None:
        super().__init__(store, feature_service)
        config = store.config
        if config.online_store.type != "sqlite":
            raise ValueError(f"expected a sqlite online store, got {config.online_store.type!r}")
        path = Path(config.online_store.path)
        if not path.is_absolute():
            path = Path(store.repo_path) / path
        if not path.exists():
            raise WorkspaceNotReady(
                f"online store {path} is missing: run `keel features materialize` first"
            )
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        for pragma in SQLITE_READ_PRAGMAS:
            self._db.execute(pragma)
        self._lock = threading.Lock()

    def _read(
        self, wanted: list[tuple[ViewRead, list[bytes]]]
    ) -> list[dict[bytes, dict[str, Any]]]:
        out: list[dict[bytes, dict[str, Any]]] = []
        parsed = ValueParser()
        with self._lock:
            for read, keys in wanted:
                names = set(read.features)
                found: dict[bytes, dict[str, Any]] = {}
                for start in range(0, len(keys), SQLITE_BATCH):
                    chunk = keys[start : start + SQLITE_BATCH]
                    rows = self._db.execute(
                        f'SELECT entity_key, feature_name, value FROM "{read.table}" '
                        f"WHERE entity_key IN ({','.join('?' * len(chunk))})",
                        chunk,
                    ).fetchall()
                    for key, name, blob in rows:
                        if name in names:
                            found.setdefault(key, {})[name] = parsed(blob)
                out.append(found)
        return out

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
    """Feast's Redis online store: one pipeline of HMGETs (one per entity key and view)."""

    def __init__(self, store: FeatureStore, feature_service: str, client: redis.Redis) -> None:
        super().__init__(store, feature_service)
        if store.config.online_store.type != "redis":
            raise ValueError(
                f"expected a redis online store, got {store.config.online_store.type!r}"
            )
        self._client = client
        pool = client.connection_pool.connection_kwargs
        address = f"redis://{pool.get('host', '?')}:{pool.get('port', '?')}/{pool.get('db', 0)}"
        self._where = f"Redis at {redact_url(address)}"
        self._fields = {
            id(read): [_mmh3(f"{read.view}:{name}") for name in read.features]
            for read in self._reads.values()
        }

    def _read(
        self, wanted: list[tuple[ViewRead, list[bytes]]]
    ) -> list[dict[bytes, dict[str, Any]]]:
        suffix = redis_key_suffix(self._project)
        pipe = self._client.pipeline(transaction=False)
        for read, keys in wanted:
            fields = self._fields[id(read)]
            for key in keys:
                pipe.hmget(key + suffix, fields)
        with online_store_errors(self._where):
            replies = iter(pipe.execute())
        out: list[dict[bytes, dict[str, Any]]] = []
        parsed = ValueParser()
        for read, keys in wanted:
            found: dict[bytes, dict[str, Any]] = {}
            for key in keys:
                values = {
                    name: parsed(blob)
                    for name, blob in zip(read.features, next(replies), strict=True)
                    if blob
                }
                if values:
                    found[key] = values
            out.append(found)
        return out

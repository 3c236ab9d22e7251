"""Feast's online key format in one place: written by the materializer, read by serving.

`redis_keys` gives the Redis key of every row of a materialized table (whole columns at a time);
`EntityKeyEncoder` gives serving's readers the key of one requested entity; `redis_key_suffix`
is what both append for Redis. Serialized entity keys are built without a protobuf per key:

`feast.infra.key_encoding_utils.serialize_entity_key` (version 3): the number of join keys, then
each join key name (sorted) as a STRING, then each value (in the same order) as type, length and
bytes. Both online stores key their rows by these bytes (Redis appends the project name). Int64,
Int32 and String values are packed here directly; any other type, or a value that is not already
of the key's Python type, goes through Feast's own conversion and serializer, so the bytes are
always Feast's (tests/unit/test_serving_entity_keys.py checks them).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from feast import FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _redis_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.protos.feast.types.Value_pb2 import ValueType as ProtoValueType
from feast.repo_config import RepoConfig
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType

from keel.core.errors import InvalidInput

_UINT32 = struct.Struct("<I")
_INT64 = struct.Struct("<q")
_INT32 = struct.Struct("<i")
_INT64_HEAD = _UINT32.pack(ProtoValueType.INT64) + _UINT32.pack(8)
_INT32_HEAD = _UINT32.pack(ProtoValueType.INT32) + _UINT32.pack(4)
_STRING_TYPE = _UINT32.pack(ProtoValueType.STRING)
_INT64_RANGE = (-(2**63), 2**63 - 1)
_INT32_RANGE = (-(2**31), 2**31 - 1)


def _pack_int(value: Any, head: bytes, packer: struct.Struct, bounds: tuple[int, int]) -> bytes:
    if type(value) is int and bounds[0] <= value <= bounds[1]:
        return head + packer.pack(value)
    return b""


def _pack_string(value: Any) -> bytes:
    if type(value) is str:
        raw = value.encode("utf-8")
        return _STRING_TYPE + _UINT32.pack(len(raw)) + raw
    return b""


class EntityKeyEncoder:
    """Serialized entity keys of one feature view, given its join keys' values in order."""

    def __init__(
        self, join_keys: Sequence[str], value_types: Sequence[ValueType], *, version: int
    ) -> None:
        if len(join_keys) != len(value_types) or not join_keys:
            raise ValueError("one value type per join key, and at least one join key")
        self.join_keys = list(join_keys)
        self._types = list(value_types)
        self._version = version
        order = sorted(range(len(join_keys)), key=lambda i: join_keys[i])
        self._order = order if len(order) > 1 else [0]
        names = b"".join(
            _STRING_TYPE + _UINT32.pack(len(raw)) + raw
            for raw in (join_keys[i].encode("utf-8") for i in self._order)
        )
        self._prefix = _UINT32.pack(len(join_keys)) + names
        fast = {ValueType.INT64, ValueType.INT32, ValueType.STRING}
        self._fast = version == 3 and all(kind in fast for kind in value_types)

    def encode(self, values: Sequence[Any]) -> bytes:
        """Feast's bytes for this view's key holding `values` (one per join key, in order)."""
        if self._fast:
            parts = [self._prefix]
            for i in self._order:
                part = self._pack(self._types[i], values[i])
                if not part:
                    return self._feast_encode(values)
                parts.append(part)
            return b"".join(parts)
        return self._feast_encode(values)

    @staticmethod
    def _pack(kind: ValueType, value: Any) -> bytes:
        if kind == ValueType.STRING:
            return _pack_string(value)
        if kind == ValueType.INT64:
            return _pack_int(value, _INT64_HEAD, _INT64, _INT64_RANGE)
        return _pack_int(value, _INT32_HEAD, _INT32, _INT32_RANGE)

    def _feast_encode(self, values: Sequence[Any]) -> bytes:
        protos = []
        for name, kind, value in zip(self.join_keys, self._types, values, strict=True):
            if value is None:
                raise InvalidInput(f"join key {name!r} has no value")
            try:
                (proto,) = python_values_to_proto_values([value], kind)
            except (TypeError, ValueError) as error:
                raise InvalidInput(
                    f"join key {name!r}: {value!r} is not a {kind.name.lower()} ({error})"
                ) from error
            protos.append(proto)
        key = EntityKey(join_keys=self.join_keys, entity_values=protos)
        try:
            return serialize_entity_key(key, entity_key_serialization_version=self._version)
        except ValueError as error:
            raise InvalidInput(f"join keys {self.join_keys}: {error}") from error


def redis_key_suffix(project: str) -> bytes:
    """What Feast's Redis online store appends to a serialized entity key: the project name."""
    return project.encode("utf-8")


def _single_int64_key_prefix(name: str, version: int) -> bytes | None:
    """The bytes before the 8 value bytes of a one-int64 entity key, if Feast's layout is that."""
    probes = (0, 0x0102030405060708)
    serialized = [
        serialize_entity_key(
            EntityKey(join_keys=[name], entity_values=[Value(int64_val=v)]),
            entity_key_serialization_version=version,
        )
        for v in probes
    ]
    prefix = serialized[0][:-8]
    if all(s == prefix + struct.pack("<q", v) for s, v in zip(serialized, probes, strict=True)):
        return prefix
    return None


def redis_keys(table: pa.Table, view: FeatureView, config: RepoConfig) -> list[bytes]:
    """Feast's Redis key (serialized entity key + project) of every row."""
    join_keys = {col.name: col.dtype.to_value_type() for col in view.entity_columns}
    version = config.entity_key_serialization_version
    project = redis_key_suffix(config.project)
    if len(join_keys) == 1:
        ((name, value_type),) = join_keys.items()
        column = table.column(name)
        prefix = _single_int64_key_prefix(name, version)
        if (
            value_type == ValueType.INT64
            and prefix is not None
            and pa.types.is_integer(column.type)
            and not pa.types.is_uint64(column.type)
            and column.null_count == 0
        ):
            packed = column.to_numpy().astype("<i8").tobytes()
            return [prefix + packed[i : i + 8] + project for i in range(0, len(packed), 8)]
    values = {
        name: python_values_to_proto_values(
            table.column(name).to_numpy(zero_copy_only=False), value_type
        )
        for name, value_type in join_keys.items()
    }
    names = list(join_keys)
    return [
        _redis_key(
            config.project,
            EntityKey(join_keys=names, entity_values=[values[n][i] for n in names]),
            entity_key_serialization_version=version,
        )
        for i in range(table.num_rows)
    ]

"""Feast's online key format: `EntityKeyEncoder` (serving) and `redis_keys` (the materializer)
build Feast's own bytes, and the same bytes as each other."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType

from keel.core.errors import InvalidInput
from keel.feast_plumbing.online_keys import EntityKeyEncoder


def feast_key(keys: list[str], types: list[ValueType], values: list[Any]) -> bytes:
    protos = [python_values_to_proto_values([v], t)[0] for v, t in zip(values, types, strict=True)]
    return serialize_entity_key(
        EntityKey(join_keys=keys, entity_values=protos), entity_key_serialization_version=3
    )


CASES = [
    (["customer_id"], [ValueType.INT64], [17]),
    (["customer_id"], [ValueType.INT64], [-(2**63)]),
    (["customer_id"], [ValueType.INT64], [2**63 - 1]),
    (["shard"], [ValueType.INT32], [-5]),
    (["courier_id"], [ValueType.STRING], ["c-0042"]),
    (["courier_id"], [ValueType.STRING], ["ünïcødé ✓"]),
    (["courier_id"], [ValueType.STRING], [""]),
    # composite keys, given out of Feast's (sorted) order
    (["zone_id", "courier_id"], [ValueType.STRING, ValueType.STRING], ["z-03", "c-0042"]),
    (["b", "a", "c"], [ValueType.INT64, ValueType.STRING, ValueType.INT32], [7, "x", 3]),
    # values Feast converts first: a numeric string, a NumPy integer, a float for an int key
    (["customer_id"], [ValueType.INT64], ["17"]),
    (["customer_id"], [ValueType.INT64], [np.int64(17)]),
    (["customer_id"], [ValueType.INT64], [17.9]),
    (["customer_id"], [ValueType.INT64], [2**63]),
    (["courier_id"], [ValueType.STRING], [42]),
    # a type without a fast path
    (["raw"], [ValueType.BYTES], [b"\x00\x01"]),
]


@pytest.mark.parametrize(("keys", "types", "values"), CASES)
def test_keys_are_feasts_bytes(keys: list[str], types: list[ValueType], values: list[Any]) -> None:
    encoder = EntityKeyEncoder(keys, types, version=3)
    try:
        expected = feast_key(keys, types, values)
    except (ValueError, TypeError, OverflowError):
        with pytest.raises(InvalidInput):
            encoder.encode(values)
        return
    assert encoder.encode(values) == expected


def test_a_missing_value_names_the_join_key() -> None:
    encoder = EntityKeyEncoder(["zone_id", "courier_id"], [ValueType.STRING] * 2, version=3)
    with pytest.raises(InvalidInput, match="'zone_id'"):
        encoder.encode([None, "c-1"])


def test_one_type_per_join_key() -> None:
    with pytest.raises(ValueError, match="one value type per join key"):
        EntityKeyEncoder(["a", "b"], [ValueType.STRING], version=3)


def _view(keys: list[str], types: list[Any]) -> Any:
    from datetime import timedelta

    from feast import Entity, FeatureView, Field, FileSource
    from feast.types import Float64

    entities = [Entity(name=f"e_{k}", join_keys=[k]) for k in keys]
    return FeatureView(
        name="v",
        entities=entities,
        schema=[Field(name=k, dtype=t) for k, t in zip(keys, types, strict=True)]
        + [Field(name="x", dtype=Float64)],
        source=FileSource(path="unused.parquet", timestamp_field="ts"),
        ttl=timedelta(days=1),
    )


@pytest.mark.parametrize(
    ("keys", "value_types", "columns"),
    [
        (["customer_id"], [ValueType.INT64], {"customer_id": [1, 17, 2**40]}),
        (["courier_id"], [ValueType.STRING], {"courier_id": ["c-1", "ünï", ""]}),
        (
            ["zone_id", "courier_id"],
            [ValueType.STRING, ValueType.STRING],
            {"zone_id": ["z-1", "z-2"], "courier_id": ["c-9", "c-8"]},
        ),
    ],
)
def test_materializer_and_reader_build_the_same_redis_keys(
    keys: list[str], value_types: list[ValueType], columns: dict[str, list[Any]]
) -> None:
    """What the materializer writes is what serving reads: one format, one module."""
    import pyarrow as pa
    from feast import RepoConfig
    from feast.types import Int64, String

    from keel.feast_plumbing.online_keys import redis_key_suffix, redis_keys

    feast_types = [Int64 if t == ValueType.INT64 else String for t in value_types]
    config = RepoConfig(
        project="shop",
        provider="local",
        registry="unused.db",
        online_store={"type": "redis"},
        entity_key_serialization_version=3,
    )
    written = redis_keys(pa.table(columns), _view(keys, feast_types), config)
    encoder = EntityKeyEncoder(keys, value_types, version=3)
    rows = zip(*(columns[k] for k in keys), strict=True)
    read = [encoder.encode(list(row)) + redis_key_suffix("shop") for row in rows]
    assert written == read
    assert written[0].endswith(b"shop") and written[0][:-4] == feast_key(
        keys, value_types, [columns[k][0] for k in keys]
    )

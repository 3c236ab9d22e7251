"""Entity keys serialized by `EntityKeyEncoder` are byte for byte Feast's own."""

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

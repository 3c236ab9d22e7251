"""The online-store value parser reads the common ValueProto kinds from their bytes: it must give
exactly what protobuf and Feast's conversion give, for every kind and for malformed bytes."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from feast.protos.feast.types.Value_pb2 import BoolList, Value
from google.protobuf.message import DecodeError

from serving.direct_features import ValueParser, _python_value

VALUES = [
    Value(double_val=0.0),
    Value(double_val=-0.0),
    Value(double_val=12.5),
    Value(double_val=-1e308),
    Value(double_val=5e-324),
    Value(double_val=math.inf),
    Value(double_val=math.nan),
    *(Value(int64_val=v) for v in (0, 1, 127, 128, 300, 2**31, 1_733_000_000, 2**63 - 1)),
    *(Value(int64_val=v) for v in (-1, -128, -(2**63))),
    Value(string_val=""),
    Value(string_val="basic"),
    Value(string_val="région-ü-€"),
    Value(string_val="x" * 127),
    Value(string_val="x" * 128),
    Value(string_val="y" * 5000),
    Value(int32_val=-7),
    Value(float_val=0.1),
    Value(bool_val=True),
    Value(bytes_val=b"\x00\xff"),
    Value(bool_list_val=BoolList(val=[True, False])),
    Value(),
]


def _protobuf(blob: bytes) -> Any:
    value = Value()
    value.ParseFromString(blob)
    return _python_value(value)


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return struct.pack("<d", left) == struct.pack("<d", right)  # NaN and -0.0 included
    return type(left) is type(right) and left == right


@pytest.mark.parametrize("value", VALUES, ids=lambda v: str(v.WhichOneof("val")))
def test_each_stored_kind_parses_as_protobuf_parses_it(value: Value) -> None:
    blob = value.SerializeToString()
    assert _same(ValueParser()(blob), _protobuf(blob))


@pytest.mark.parametrize(
    "blob",
    [
        b"\x29" + struct.pack("<d", 1.5) + b"\x20\x05",  # a double, then an int64 field
        b"\x20\x96\x01\x10",  # an int64 varint followed by a stray byte
        b"\x20" + b"\xff" * 9 + b"\x7f",  # a varint beyond 64 bits
        b"\x12\x03ab\x12\x01c",  # two string fields: protobuf keeps the last
        b"\x12\x00",  # the empty string
    ],
)
def test_bytes_that_are_not_one_plain_field_go_through_protobuf(blob: bytes) -> None:
    try:
        expected = _protobuf(blob)
    except DecodeError:
        with pytest.raises(DecodeError):
            ValueParser()(blob)
        return
    assert _same(ValueParser()(blob), expected)


def test_invalid_utf8_is_refused_as_protobuf_refuses_it() -> None:
    blob = b"\x12\x02\xc3\x28"
    with pytest.raises(DecodeError):
        _protobuf(blob)
    with pytest.raises(DecodeError):
        ValueParser()(blob)

"""Column-wise `ValueProto` bytes equal Feast's own per-cell conversion, edge values included."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

from keel.feast_plumbing.proto_values import encode_column, timestamp_cells, timestamp_nanos


def _feast_bytes(column: pa.Array, value_type: ValueType) -> list[bytes]:
    """What Feast's local engine stores: the column through pandas, then one proto per cell."""
    table = pa.Table.from_pandas(pa.table({"c": column}).to_pandas())
    values = table.column("c").to_numpy(zero_copy_only=False)
    return [v.SerializeToString() for v in python_values_to_proto_values(values, value_type)]


CASES = [
    (pa.array([0, 1, -1, 2**62, -(2**63), 2**63 - 1, 127, 128], pa.int64()), ValueType.INT64),
    (pa.array([0, 1, -1, 2**40, 127, 128, None], pa.int64()), ValueType.INT64),
    (pa.array([0, 1, -1, 300, None, -(2**31), 2**31 - 1], pa.int32()), ValueType.INT32),
    (pa.array([1.7, -2.7, None, 0.0], pa.float64()), ValueType.INT64),
    (pa.array([0.0, -0.0, 1.5, float("nan"), None, float("inf"), 1e308]), ValueType.DOUBLE),
    (pa.array([1, 2, None], pa.int64()), ValueType.DOUBLE),
    (pa.array([0.0, -0.0, 1.5, None, 3.3], pa.float32()), ValueType.FLOAT),
    (pa.array([0.1, None, 3.3], pa.float64()), ValueType.FLOAT),
    (pa.array(["a", "", None, "é" * 200, "a"]), ValueType.STRING),
    (pa.array([True, False, None]), ValueType.BOOL),
    (
        pa.array(
            [datetime(2024, 1, 1, 12, 0, 0, 500000, tzinfo=UTC), None, datetime(1960, 5, 5)],
            pa.timestamp("us", tz="UTC"),
        ),
        ValueType.UNIX_TIMESTAMP,
    ),
    (pa.array([b"x", None, b""]), ValueType.BYTES),  # Feast's own converter (no fast path)
    (pa.array([], pa.int64()), ValueType.INT64),
]


@pytest.mark.parametrize(("column", "value_type"), CASES, ids=lambda c: str(c)[:30])
def test_encoded_column_is_byte_identical_to_feast(column: pa.Array, value_type: ValueType) -> None:
    assert encode_column(column, value_type) == _feast_bytes(column, value_type)


def test_event_times_are_stored_as_feast_stores_them() -> None:
    instants = [
        datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),
    ]
    for column in (
        pa.array(instants, pa.timestamp("ns", tz="UTC")),
        pa.array([i.isoformat() for i in instants]),  # DuckDB's strings for ns zoned times
    ):
        cells, nanos = timestamp_cells(column)
        for cell, instant, nano in zip(cells, instants, nanos.tolist(), strict=True):
            stamp = Timestamp()
            stamp.FromDatetime(instant)
            assert cell == stamp.SerializeToString()
            assert nano == timestamp_nanos(cell) == stamp.seconds * 10**9 + stamp.nanos


def test_no_rows_encode_to_nothing() -> None:
    cells, nanos = timestamp_cells(pa.array([], pa.timestamp("us", tz="UTC")))
    assert cells == [] and len(nanos) == 0

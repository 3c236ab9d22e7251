"""Arrow columns as serialized Feast `ValueProto`s, whole columns at a time.

Feast's materialization builds one `ValueProto` object per cell and serializes it
(`feast.type_map.python_values_to_proto_values`); that costs microseconds per cell. The common
scalar types are encoded here with NumPy straight to the protobuf wire format, producing the same
bytes (tests/unit/test_proto_values.py checks them against Feast's own conversion). Any other type
or any value outside the fast paths' reach goes through Feast's converter itself.

Feast's rules kept: a null (or NaN) cell is an empty `Value` (zero bytes); Int64/Int32 cells are
`int(x)` (so float columns truncate); UnixTimestamp cells are whole seconds of the instant
(`datetime64[s]`), with NaT as Feast's own int64 minimum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

# Wire tags (field number << 3 | wire type) of `feast.types.Value`'s scalar fields.
_TAG_BYTES = 0x0A
_TAG_STRING = 0x12
_TAG_INT32 = 0x18
_TAG_INT64 = 0x20
_TAG_DOUBLE = 0x29
_TAG_FLOAT = 0x35
_TAG_BOOL = 0x38
_TAG_UNIX_TIMESTAMP = 0x40
_INT32_RANGE = (-(2**31), 2**31 - 1)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _rows_from_matrix(matrix: np.ndarray, lengths: np.ndarray) -> list[bytes]:
    """Row i of a uint8 matrix, its first `lengths[i]` bytes, as one `bytes` per row."""
    mask = np.arange(matrix.shape[1]) < lengths[:, None]
    blob = matrix[mask].tobytes()
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends][: len(ends)]
    return [blob[s:e] for s, e in zip(starts, ends, strict=True)]


def _varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints of int64 values (negatives as 10-byte two's complement): bytes, lengths."""
    unsigned = values.astype(np.int64).view(np.uint64)
    groups = np.stack(
        [((unsigned >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8) for k in range(10)],
        axis=1,
    )
    lengths = np.ones(len(values), dtype=np.int64)
    for k in range(1, 10):
        lengths += (unsigned >> np.uint64(7 * k)) != 0
    more = np.arange(10) < (lengths[:, None] - 1)
    return groups | (more.astype(np.uint8) << 7), lengths


def tagged_varints(tag: int, values: np.ndarray, present: np.ndarray) -> list[bytes]:
    """`tag` + varint(value) for present rows, empty bytes for the others."""
    body, lengths = _varints(values)
    matrix = np.concatenate([np.full((len(values), 1), tag, dtype=np.uint8), body], axis=1)
    return _rows_from_matrix(matrix, np.where(present, lengths + 1, 0))


def _tagged_fixed(tag: int, values: np.ndarray, present: np.ndarray) -> list[bytes]:
    """`tag` + little-endian fixed-width value (float64 or float32) for present rows."""
    width = values.dtype.itemsize
    body = values.astype(values.dtype.newbyteorder("<")).view(np.uint8).reshape(-1, width)
    matrix = np.concatenate([np.full((len(values), 1), tag, dtype=np.uint8), body], axis=1)
    return _rows_from_matrix(matrix, np.where(present, width + 1, 0))


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _strings(column: pa.ChunkedArray) -> list[bytes]:
    encoded: dict[str, bytes] = {}
    out: list[bytes] = []
    for value in column.to_pylist():
        if value is None:
            out.append(b"")
            continue
        cell = encoded.get(value)
        if cell is None:
            raw = value.encode("utf-8")
            cell = encoded[value] = bytes([_TAG_STRING]) + _varint(len(raw)) + raw
        out.append(cell)
    return out


def _numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column as float64 values and a presence mask (null and NaN are absent)."""
    values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    return values, ~np.isnan(values)


def _integers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    """Feast's `int(x)` of each present cell; None when exactness cannot be promised."""
    if pa.types.is_integer(column.type):
        present = column.is_valid().to_numpy(zero_copy_only=False)
        if pa.types.is_uint64(column.type):
            return None
        values = pc.fill_null(column, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return values, present
    if pa.types.is_floating(column.type):
        floats, present = _numbers(column)
        if np.any(np.abs(floats[present]) >= 2.0**63):
            return None
        return np.trunc(np.where(present, floats, 0.0)).astype(np.int64), present
    return None


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _fast(column: pa.ChunkedArray, value_type: ValueType) -> list[bytes] | None:
    kind = column.type
    if value_type in (ValueType.INT64, ValueType.INT32):
        ints = _integers(column)
        if ints is None:
            return None
        values, present = ints
        low, high = _INT32_RANGE
        if value_type == ValueType.INT32 and np.any((values < low) | (values > high)):
            return None  # Feast raises for these; let its converter say so
        tag = _TAG_INT64 if value_type == ValueType.INT64 else _TAG_INT32
        return tagged_varints(tag, values, present)
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT) and (
        pa.types.is_floating(kind) or pa.types.is_integer(kind)
    ):
        values, present = _numbers(column)
        if value_type == ValueType.DOUBLE:
            return _tagged_fixed(_TAG_DOUBLE, values, present)
        finite = values[present & np.isfinite(values)]
        if np.any(np.abs(finite) > _FLOAT32_MAX):
            return None
        return _tagged_fixed(_TAG_FLOAT, values.astype(np.float32), present)
    if value_type == ValueType.STRING and (
        pa.types.is_string(kind) or pa.types.is_large_string(kind)
    ):
        return _strings(column)
    if value_type == ValueType.BOOL and pa.types.is_boolean(kind):
        present = column.is_valid().to_numpy(zero_copy_only=False)
        values = pc.fill_null(column, False).to_numpy(zero_copy_only=False).astype(np.int64)
        return tagged_varints(_TAG_BOOL, values, present)
    if value_type == ValueType.UNIX_TIMESTAMP and pa.types.is_timestamp(kind):
        instants = column.to_numpy(zero_copy_only=False)
        seconds = instants.astype("datetime64[s]").astype(np.int64)  # NaT -> int64 min, as Feast
        return tagged_varints(_TAG_UNIX_TIMESTAMP, seconds, np.ones(len(seconds), dtype=bool))
    return None


def encode_column(column: pa.ChunkedArray | pa.Array, value_type: ValueType) -> list[bytes]:
    """Each cell of `column` as Feast's serialized `ValueProto` of type `value_type`."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column], type=column.type)
    fast = _fast(column, value_type) if len(column) else []
    if fast is not None:
        return fast
    values = column.to_numpy(zero_copy_only=False)
    return [v.SerializeToString() for v in python_values_to_proto_values(values, value_type)]


def timestamp_cells(column: pa.ChunkedArray | pa.Array) -> tuple[list[bytes], np.ndarray]:
    """Event times as Feast stores them under `_ts:<view>`: serialized protobuf `Timestamp`s of
    the microsecond-truncated instant (Feast goes through `datetime`), and those instants in
    nanoseconds for Feast's newer-wins comparison."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column], type=column.type)
    if _is_text(column.type):
        # Feast's DuckDB store returns nanosecond zoned timestamps as ISO strings.
        parsed = pd.to_datetime(column.to_numpy(zero_copy_only=False), utc=True, format="ISO8601")
        column = pa.chunked_array([pa.array(parsed)])
    if not pa.types.is_timestamp(column.type):
        raise TypeError(f"expected a timestamp column, got {column.type}")
    if column.null_count:
        raise ValueError("event timestamps must not be null")
    micros = pc.cast(column, pa.timestamp("us", tz=column.type.tz), safe=False)
    us = micros.to_numpy(zero_copy_only=False).astype("datetime64[us]").astype(np.int64)
    seconds, sub_second = np.divmod(us, 1_000_000)
    nanos = sub_second * 1000
    cells = [
        s + n
        for s, n in zip(
            tagged_varints(0x08, seconds, seconds != 0),
            tagged_varints(0x10, nanos, nanos != 0),
            strict=True,
        )
    ]
    return cells, us * 1000


def timestamp_nanos(serialized: bytes) -> int:
    """Nanoseconds since the epoch of a stored `_ts` value (Feast's comparison unit)."""
    stamp = Timestamp()
    stamp.ParseFromString(serialized)
    return int(stamp.seconds) * 1_000_000_000 + int(stamp.nanos)

"""A user's table at the boundary: read it, classify its columns, write results atomically.

Column kinds: ``id`` (named ``id`` or ``*_id``: never modelled, renumbered in synthetic
output and ignored by the report), ``number`` (integers and floats), ``category`` (text,
booleans, pandas categoricals), ``datetime``. Anything else is refused with the file and column.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from keel.core.errors import InvalidInput
from keel.core.input_files import read_frame
from synthetic.churn import write_atomically


class Kind(StrEnum):
    ID = "id"
    NUMBER = "number"
    CATEGORY = "category"
    DATETIME = "datetime"


FloatArray = npt.NDArray[np.float64]
SUPPORTED = "numbers, booleans, text or categoricals, datetimes"


def read_table(path: Path) -> pd.DataFrame:
    """A non-empty Parquet (or CSV) table, or InvalidInput naming the file and what is wrong."""
    return read_frame(Path(path))


def column_kinds(frame: pd.DataFrame, *, source: str) -> dict[str, Kind]:
    """Kind of every column; InvalidInput naming ``source`` and the column for the others."""
    return {str(name): column_kind(frame[name], name=str(name), source=source) for name in frame}


def column_kind(values: pd.Series, *, name: str, source: str) -> Kind:
    """Kind of one column (see the module docstring)."""
    dtype = values.dtype
    is_id_name = name == "id" or name.endswith("_id")
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return Kind.CATEGORY
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return Kind.ID if is_id_name else Kind.NUMBER
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return Kind.DATETIME
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred in {"string", "empty"}:
            return Kind.ID if is_id_name else Kind.CATEGORY
        if inferred == "boolean":
            return Kind.CATEGORY
        raise InvalidInput(
            f"{source}: column {name!r} holds {inferred} values; supported: {SUPPORTED}"
        )
    raise InvalidInput(
        f"{source}: column {name!r} has unsupported type {dtype}; supported: {SUPPORTED}"
    )


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as Parquet to ``path`` atomically (directory created if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def as_numbers(values: pd.Series, kind: Kind) -> FloatArray:
    """Numbers and datetimes as float64 (datetimes in epoch seconds), nulls as NaN."""
    if kind == Kind.DATETIME:
        micros = pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")
        seconds = micros.astype("int64").to_numpy(dtype=np.float64) / 1e6
        out: FloatArray = np.where(values.isna().to_numpy(), np.nan, seconds)
        return out
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def as_labels(values: pd.Series) -> pd.Series:
    """Category values as strings, with ``<null>`` for missing values."""
    return values.astype(object).where(values.notna(), "<null>").astype(str)

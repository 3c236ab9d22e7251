"""A user's Parquet or CSV file at the boundary: read it and check it against a declared schema.

Every problem is an `InvalidInput` (exit code 2 in the CLI) whose message starts with the file
and names the column, with an example row where one exists. The rules:

- the file exists, ends in `.parquet` or `.csv`, is readable, and has at least one row;
- every required column is present and holds its kind: `integer` (whole numbers; `true` or
  `1.5` are not), `number` (finite numbers), `binary` (0 or 1), `timestamp`, `text`, `any`;
- timestamps carry a time zone: a naive one is refused with a hint (Keel compares times across
  zones and never guesses one). In a CSV that means an offset on every value (`...Z`, `+02:00`);
- `unique` columns (the entity key) identify one row each: a duplicate names both rows.

Row numbers in messages count data rows from 1 (the header of a CSV is not a row).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from keel.core.errors import InvalidInput

Kind = Literal["integer", "number", "binary", "timestamp", "text", "any"]
SUFFIXES = (".parquet", ".csv")
_ZONE = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|UTC|[+-]\d{2}(:?\d{2})?)$", re.IGNORECASE)
NAIVE_HINT = (
    "timestamps need a time zone: write them as UTC (e.g. 2026-11-30T00:00:00Z), or in pandas "
    "df[col] = df[col].dt.tz_localize('UTC') before saving"
)


@dataclass(frozen=True)
class Column:
    """One declared column: its name, kind, and whether it must be present / may hold nulls."""

    name: str
    kind: Kind = "any"
    required: bool = True
    nullable: bool = False


@dataclass(frozen=True)
class TableSchema:
    """What a command expects of a file: columns, and the columns that identify a row."""

    columns: tuple[Column, ...] = ()
    unique: tuple[str, ...] = ()


def read_input(path: Path, schema: TableSchema, *, role: str = "") -> pd.DataFrame:
    """The file as a DataFrame with declared columns converted (integers to int64 when no nulls,
    timestamps to UTC), or `InvalidInput` naming the file and the column."""
    where = f"{role} {path}".strip()
    frame = read_frame(path, where=where)
    for column in schema.columns:
        if column.name not in frame.columns:
            if column.required:
                raise InvalidInput(
                    f"{where}: missing column {column.name!r} "
                    f"(found {', '.join(map(str, frame.columns[:20]))})"
                )
            continue
        frame[column.name] = check_column(frame[column.name], column, where=where)
    present = [name for name in schema.unique if name in frame.columns]
    if present:
        check_unique(frame, present, where=where)
    return frame


def read_frame(path: Path, *, where: str | None = None) -> pd.DataFrame:
    """A non-empty Parquet or CSV file as a DataFrame, or `InvalidInput` naming the file."""
    path = Path(path)
    where = where or str(path)
    if not path.is_file():
        raise InvalidInput(f"{where}: no such file")
    if path.suffix not in SUFFIXES:
        raise InvalidInput(f"{where}: expected a .parquet or .csv file, got {path.suffix!r}")
    if path.stat().st_size == 0:
        raise InvalidInput(f"{where}: the file is empty")
    try:
        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{where}: not a readable CSV file ({error})") from None
    except (pa.ArrowException, OSError, ValueError) as error:
        raise InvalidInput(f"{where}: not a readable Parquet file ({error})") from None
    if frame.shape[1] == 0:
        raise InvalidInput(f"{where}: the file has no columns")
    if len(frame) == 0:
        raise InvalidInput(f"{where}: the file has columns but no rows")
    return frame.reset_index(drop=True)


def check_column(values: pd.Series, column: Column, *, where: str) -> pd.Series:
    """`values` converted to the column's kind, or `InvalidInput` naming the column and row."""
    name = column.name
    nulls = values.isna()
    if nulls.any() and not column.nullable:
        raise InvalidInput(f"{where}: column {name!r} has an empty value (row {_row(nulls)})")
    if column.kind in ("integer", "number", "binary"):
        return _numbers(values, column, where=where)
    if column.kind == "timestamp":
        return check_timestamps(values, name=name, where=where)
    if column.kind == "text":
        strings = values.map(lambda v: isinstance(v, str) or pd.isna(v))
        if not strings.all():
            raise _wrong(where, name, "text", values, ~strings)
    return values


def _numbers(values: pd.Series, column: Column, *, where: str) -> pd.Series:
    name, kind = column.name, column.kind
    if kind == "binary" and pd.api.types.is_bool_dtype(values):
        return values.astype("int64")  # True/False labels are 1/0
    if pd.api.types.is_bool_dtype(values) or values.map(lambda v: isinstance(v, bool)).any():
        raise _wrong(where, name, kind, values, values.map(lambda v: isinstance(v, bool)))
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    bad |= numbers.notna() & ~np.isfinite(numbers.fillna(0).to_numpy(dtype=float))
    if kind in ("integer", "binary"):
        bad |= numbers.notna() & (numbers % 1 != 0)
    if kind == "binary":
        bad |= numbers.notna() & ~numbers.isin([0, 1])
    if bad.any():
        raise _wrong(where, name, kind, values, bad)
    if kind in ("integer", "binary") and not numbers.isna().any():
        return numbers.astype("int64")
    return numbers


def check_timestamps(values: pd.Series, *, name: str, where: str) -> pd.Series:
    """Zone-aware timestamps as UTC; naive ones (or strings without an offset) refused."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values):
        raise InvalidInput(
            f"{where}: column {name!r} holds timestamps without a time zone "
            f"(e.g. {values.dropna().iloc[0]} in row {_row(values.notna())}); {NAIVE_HINT}"
        )
    present = values.notna()
    texts = values.map(lambda v: isinstance(v, str))
    if not texts[present].all():
        raise _wrong(where, name, "timestamp", values, present & ~texts)
    naive = present & ~values.map(lambda v: isinstance(v, str) and bool(_ZONE.search(v.strip())))
    if naive.any():
        raise InvalidInput(
            f"{where}: column {name!r} holds a timestamp without a time zone "
            f"({values[naive].iloc[0]!r} in row {_row(naive)}); {NAIVE_HINT}"
        )
    parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna() & present
    if bad.any():
        raise _wrong(where, name, "timestamp (ISO 8601)", values, bad)
    return parsed


def check_unique(frame: pd.DataFrame, key: Sequence[str], *, where: str) -> None:
    """`InvalidInput` naming the key and two rows that share it, if any do."""
    duplicated = frame.duplicated(subset=list(key), keep=False)
    if not duplicated.any():
        return
    first = frame.index[duplicated.to_numpy()][0]
    same = (frame[list(key)] == frame.loc[first, list(key)]).all(axis=1)
    rows = [int(i) + 1 for i in frame.index[same.to_numpy()][:2]]
    value = ", ".join(f"{k}={_show(frame.loc[first, k])}" for k in key)
    label = "column " + repr(key[0]) if len(key) == 1 else "columns " + ", ".join(map(repr, key))
    raise InvalidInput(
        f"{where}: {label}: duplicate key {value} in rows {rows[0]} and {rows[1]}; "
        "each key must appear once"
    )


def _wrong(where: str, name: str, kind: str, values: pd.Series, bad: pd.Series) -> InvalidInput:
    example = values[bad].iloc[0]
    return InvalidInput(
        f"{where}: column {name!r} should hold {_KINDS.get(kind, kind)}, "
        f"found {_show(example)} (row {_row(bad)})"
    )


_KINDS = {
    "integer": "integers",
    "number": "finite numbers",
    "binary": "0/1 labels",
    "text": "text",
    "timestamp": "timestamps",
}


def _show(value: object) -> str:
    """A cell as a user wrote it: `True`, `1.5`, `'abc'`, `2026-01-01 00:00:00+00:00`."""
    if isinstance(value, pd.Timestamp):
        return str(value)
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)


def _row(mask: pd.Series) -> int:
    return int(np.flatnonzero(mask.to_numpy())[0]) + 1

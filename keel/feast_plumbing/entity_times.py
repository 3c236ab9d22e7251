"""Entity-frame timestamps at the precision Feast's sources and DuckDB hold: UTC microseconds."""

from __future__ import annotations

import pandas as pd

UTC_MICROSECONDS = pd.DatetimeTZDtype("us", "UTC")


def utc_microseconds(times: pd.Series) -> pd.Series:
    """`times` as UTC microseconds: nanoseconds floored (a row at 12:00:00.000000999 sees what
    12:00:00 sees), naive times read as UTC as Feast reads them. Already so: returned as is."""
    if times.dtype == UTC_MICROSECONDS:
        return times
    return pd.to_datetime(times, utc=True).dt.floor("us").astype(UTC_MICROSECONDS)


def utc_datetime_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every datetime column in UTC (naive times read as UTC), as Feast's
    `coerce_tz_aware` leaves an entity frame, without Feast's copy of the whole frame: only a
    column not in UTC already is converted. A frame already so is returned as it is."""
    changed = {
        column: pd.to_datetime(values, utc=True)
        for column, values in frame.items()
        if pd.api.types.is_datetime64_any_dtype(values.dtype)
        and not (isinstance(values.dtype, pd.DatetimeTZDtype) and str(values.dtype.tz) == "UTC")
    }
    if not changed:
        return frame
    out = frame.copy(deep=False)
    for column, values in changed.items():
        out[column] = values
    return out

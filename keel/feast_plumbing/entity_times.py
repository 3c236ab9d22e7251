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

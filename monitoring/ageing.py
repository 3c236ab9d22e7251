"""Features that grow with time by definition (a tenure): declared, timed and aged.

A feature is declared as growing with time by a tag on the Feast view that computes it,
`tags={"grows_per_day": "tenure_days=1"}`: every unchanged entity's value grows by that much
per day. (On the view, because Feast refuses tagged fields in on-demand views, where a tenure
is typically computed: feast-dev/feast#3617.) Training records the rate and the reference's
time in the reference profile; drift then compares a later window with the reference *aged* by
each row's elapsed time (`monitoring.drift`), so a month-old population is not reported as
drifted for having aged a month.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

from keel.core.errors import InvalidInput

GROWS_PER_DAY_TAG = "grows_per_day"
TIME_COLUMNS = ("event_timestamp", "as_of", "created_at")
"""Where a window's row times are found, first match wins: feature frames (`event_timestamp`),
`keel score` output (`as_of`), prediction-log exports (`created_at`)."""
DAY = pd.Timedelta(days=1)


class TaggedView(Protocol):
    """What `declared_growth` reads of a Feast feature view or on-demand feature view."""

    name: str
    tags: Mapping[str, str]


def parse_growth(view: str, text: str) -> dict[str, float]:
    """`"tenure_days=1, age_hours=24"` -> feature name -> growth per day."""
    rates: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, number = item.partition("=")
        try:
            rate = float(number)
        except ValueError:
            rate = math.nan
        if not name.strip() or not math.isfinite(rate) or rate == 0:
            raise InvalidInput(
                f"feature view {view}: tag {GROWS_PER_DAY_TAG}={text!r} should read "
                "FEATURE=RATE[,FEATURE=RATE...] with a non-zero RATE per day, e.g. tenure_days=1"
            )
        rates[name.strip()] = rate
    return rates


def declared_growth(views: Iterable[TaggedView]) -> dict[str, float]:
    """Feature name -> growth per day, from the `grows_per_day` tags of `views`."""
    rates: dict[str, float] = {}
    for view in views:
        text = view.tags.get(GROWS_PER_DAY_TAG)
        if text is not None:
            rates.update(parse_growth(view.name, text))
    return rates


def feature_service_growth(store: Any, service_name: str) -> dict[str, float]:
    """`declared_growth` of the features a Feast feature service serves, read from the views
    it projects in `store`'s registry (a `feast.FeatureStore`)."""
    service = store.get_feature_service(service_name)
    served = {p.name: {f.name for f in p.features} for p in service.feature_view_projections}
    views = [*store.list_feature_views(), *store.list_on_demand_feature_views()]
    rates = declared_growth(view for view in views if view.name in served)
    names = set().union(*served.values())
    return {name: rate for name, rate in rates.items() if name in names}


def time_column(frame: pd.DataFrame) -> str | None:
    """The first of `TIME_COLUMNS` that `frame` has, or None."""
    return next((name for name in TIME_COLUMNS if name in frame.columns), None)


def reference_time(frame: pd.DataFrame) -> str | None:
    """The median row time of `frame` (ISO 8601, UTC), or None without a time column."""
    name = time_column(frame)
    if name is None:
        return None
    times = pd.to_datetime(frame[name], utc=True).dropna()
    if times.empty:
        return None
    return str(times.sort_values().iloc[len(times) // 2].isoformat())


def elapsed_days(frame: pd.DataFrame, since: str | None) -> np.ndarray | None:
    """Days from `since` to each row's time (fractional; a row without a time gets the
    median), or None when `since` or every row time is unknown."""
    name = time_column(frame)
    if name is None or since is None:
        return None
    times = pd.to_datetime(frame[name], utc=True)
    elapsed = np.asarray(((times - pd.Timestamp(since)) / DAY).to_numpy(dtype=float))
    known = ~np.isnan(elapsed)
    if not known.any():
        return None
    return np.where(known, elapsed, np.median(elapsed[known]))

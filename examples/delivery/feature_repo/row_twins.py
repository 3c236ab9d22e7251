"""Row twins of this repo's pandas on-demand views, for `keel serve`'s hot path.

`ROW_TWINS` maps an on-demand view's name to a function of one row (a dict of the view's
inputs) returning a dict of its outputs. Keel compares each twin with the view's registered
pandas transform on probe rows (missing values included) when it starts serving, and uses it
only if every output is equal; otherwise it keeps the transform and logs why. This file is
imported on its own: it may not import the repo's other files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

PEAK_HOURS = frozenset({11, 12, 13, 18, 19, 20})


def _number(value: object) -> float:
    """A float; NaN for a missing value (pandas' float column)."""
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def order_features_row(row: Mapping[str, object]) -> dict[str, float | int]:
    """`order_features` for one row: distance weighted by traffic, and lunch/dinner peaks."""
    return {
        "distance_x_traffic": _number(row["distance_km"]) * _number(row["traffic_index"]),
        "is_peak_hour": int(row["order_hour"] in PEAK_HOURS),
    }


ROW_TWINS = {"order_features": order_features_row}

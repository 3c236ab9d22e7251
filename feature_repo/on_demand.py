"""Request-time features: computed identically when training (as of the snapshot) and serving
(as of now), because both paths run this one transform through Feast."""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Mapping

import pandas as pd
from feast import FeatureView, Field
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
from feast.types import Float64

from feature_repo.sources import request_context


def customer_derived(inputs: pd.DataFrame) -> pd.DataFrame:
    """Tenure at request time, spend per session and the short-vs-long login trend.

    Self-contained (imports inside, no module constants): Feast ships the function's code
    to wherever it runs, without this module's globals.
    """
    import numpy as np
    import pandas as pd

    seconds_per_day = 86_400.0
    out = pd.DataFrame(index=inputs.index)
    tenure = inputs["as_of_unix"].astype("float64") - inputs["signup_unix"].astype("float64")
    out["tenure_days"] = (tenure / seconds_per_day).clip(lower=0.0)
    sessions = inputs["sessions_30d"].astype("float64")
    out["spend_per_session_30d"] = inputs["spend_30d"].astype("float64") / np.maximum(sessions, 1.0)
    daily_7 = inputs["logins_7d"].astype("float64") / 7.0
    daily_30 = (inputs["logins_30d"].astype("float64") + 1.0) / 30.0
    out["login_trend"] = daily_7 / daily_30
    return out


def _fresh_copy(function: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """A copy of `function`: Feast's decorator rewrites `__module__` of what it decorates, which
    would break the next decoration of the same function (a second workspace in one process)."""
    copy = types.FunctionType(
        function.__code__,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__module__ = function.__module__
    copy.__qualname__ = function.__qualname__
    copy.__doc__ = function.__doc__
    return copy


def derived_view(profile: FeatureView, activity: FeatureView) -> OnDemandFeatureView:
    """Bind the transform to the batch views it reads."""
    decorate = on_demand_feature_view(
        sources=[profile, activity, request_context],
        schema=[
            Field(name="tenure_days", dtype=Float64),
            Field(name="spend_per_session_30d", dtype=Float64),
            Field(name="login_trend", dtype=Float64),
        ],
        mode="pandas",
        # Tenure grows by one a day for every unchanged customer: monitoring ages the reference
        # by the elapsed time instead of calling a month-older population drifted. (On the view,
        # not the field: Feast refuses tagged fields of an on-demand view, feast-dev/feast#3617.)
        tags={"grows_per_day": "tenure_days=1"},
    )
    view: OnDemandFeatureView = decorate(_fresh_copy(customer_derived))
    return view


def _number(value: object) -> float:
    """A float, NaN for a missing value (what pandas' astype("float64") gives)."""
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def customer_derived_row(row: Mapping[str, object]) -> dict[str, float]:
    """`customer_derived` for one row without pandas: the serving hot path's twin.

    Same arithmetic and NaN propagation; serving checks it against the registry's pandas
    transform on probe rows at start-up and falls back to the transform if they ever differ.
    """
    tenure = (_number(row["as_of_unix"]) - _number(row["signup_unix"])) / 86_400.0
    sessions = _number(row["sessions_30d"])
    spend = _number(row["spend_30d"])
    daily_7 = _number(row["logins_7d"]) / 7.0
    daily_30 = (_number(row["logins_30d"]) + 1.0) / 30.0
    return {
        "tenure_days": tenure if math.isnan(tenure) else max(tenure, 0.0),
        "spend_per_session_30d": spend
        / (sessions if sessions > 1.0 or math.isnan(sessions) else 1.0),
        "login_trend": daily_7 / daily_30,
    }

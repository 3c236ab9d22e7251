"""A pandas-mode on-demand view without a row twin runs its function directly, on the frame
Feast would give it, once proven equal to Feast's `transform_arrow` on probe rows; a view whose
direct result differs, or that fails on probe rows, keeps Feast's path with one warning."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feast import Entity, FeatureView, Field, FileSource, RequestSource
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
from feast.types import Bool, Float64, Int64, String
from feast.value_type import ValueType

from serving.on_demand_views import OnDemandView, _served, feast_values

customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
stats = FeatureView(
    name="stats",
    entities=[customer],
    ttl=timedelta(days=1),
    schema=[
        Field(name="spend", dtype=Float64),
        Field(name="orders", dtype=Int64),
        Field(name="tier", dtype=String),
    ],
    source=FileSource(path="data/stats.parquet", timestamp_field="event_timestamp"),
)
order = RequestSource(
    name="order", schema=[Field(name="hour", dtype=Int64), Field(name="basket", dtype=Float64)]
)
INPUTS = {
    "customer_id": ValueType.INT64,
    "hour": ValueType.INT64,
    "basket": ValueType.DOUBLE,
    "spend": ValueType.DOUBLE,
    "orders": ValueType.INT64,
    "tier": ValueType.STRING,
}
SCHEMA = [
    Field(name="per_order", dtype=Float64),
    Field(name="late_hour", dtype=Int64),
    Field(name="big", dtype=Bool),
    Field(name="label", dtype=String),
    Field(name="hour_or_none", dtype=Int64),
]


def pandas_view(udf: Any, name: str) -> OnDemandFeatureView:
    udf.__name__ = name
    view: OnDemandFeatureView = on_demand_feature_view(
        sources=[stats, order], schema=SCHEMA, mode="pandas"
    )(udf)
    return view


def mixed(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=inputs.index)
    # the full name Feast adds for a source feature read under its short name
    out["per_order"] = inputs["stats__spend"] / inputs["orders"].clip(lower=1)
    out["late_hour"] = (inputs["hour"].fillna(0) >= 20).astype("int64")
    out["big"] = inputs["basket"] > 10
    out["label"] = inputs["tier"].str.upper()
    # an output under the view's full feature name: Feast serves it under the short one
    out["mixed__hour_or_none"] = inputs["hour"]
    out["passthrough"] = inputs["customer_id"]
    return out


def through_feast(view: OnDemandView, columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    table = view._odfv.transform_arrow(pa.Table.from_pydict(columns), False)
    return {name: feast_values(table[name].to_numpy(), kind) for name, kind in view.outputs}


ROWS: list[dict[str, Any]] = [
    {"customer_id": 1, "hour": 21, "basket": 12.5, "spend": 40.0, "orders": 4, "tier": "gold"},
    {"customer_id": 2, "hour": None, "basket": None, "spend": None, "orders": None, "tier": None},
    {"customer_id": 3, "hour": 9, "basket": 3, "spend": 7.5, "orders": 0, "tier": ""},
    {"customer_id": 4, "hour": 23, "basket": None, "spend": 1.0, "orders": None, "tier": "x"},
]


def columns_of(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in INPUTS}


def test_the_direct_path_gives_what_feasts_transform_gives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        view = OnDemandView(pandas_view(mixed, "mixed"), [f.name for f in SCHEMA], INPUTS)
    assert view.twin is None
    assert view.direct
    assert not [r for r in caplog.records if r.name == "serving.on_demand_views"]
    for batch in ([row] for row in ROWS):  # one row alone: its columns' types from it only
        assert view.compute(columns_of(batch), 1) == through_feast(view, columns_of(batch))
    got = view.compute(columns_of(ROWS), len(ROWS))
    assert got == through_feast(view, columns_of(ROWS))
    assert got == {
        "per_order": [10.0, None, 7.5, None],  # a missing order count: NaN
        "late_hour": [1, 0, 0, 1],
        "big": [True, False, False, False],
        "label": ["GOLD", None, "", "X"],
        "hour_or_none": [21, None, 9, 23],
    }


def stateful(inputs: pd.DataFrame, calls: list[int] = [0]) -> pd.DataFrame:  # noqa: B006
    calls[0] += 1  # differs from one call to the next: Feast's call, then the direct one
    out = pd.DataFrame(index=inputs.index)
    for field in SCHEMA:
        out[field.name] = calls[0]
    return out


def fails_on_missing(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=inputs.index)
    for field in SCHEMA:
        out[field.name] = inputs["hour"].astype("int64")  # a missing hour cannot be an int
    return out


def unconvertible_extra(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=inputs.index)
    for field in SCHEMA:
        out[field.name] = inputs["orders"]
    # an undeclared column Feast's `pa.Table.from_pandas` refuses once rows mix types
    out["extra"] = [1 if i % 2 else "one" for i in range(len(inputs))]
    return out


@pytest.mark.parametrize(
    ("udf", "name", "says"),
    [
        (stateful, "stateful_view", "differs from Feast's"),
        (fails_on_missing, "fails_on_missing_view", "failed on probe rows"),
        (unconvertible_extra, "unconvertible_view", "failed on probe rows"),
    ],
)
def test_a_view_whose_direct_path_is_not_proven_keeps_feasts(
    udf: Any, name: str, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="serving.on_demand_views"):
        view = OnDemandView(pandas_view(udf, name), [f.name for f in SCHEMA], INPUTS)
    assert not view.direct
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert name in warnings[0] and says in warnings[0] and "using Feast's transform" in warnings[0]
    one = columns_of(ROWS[:1])
    if udf is stateful:
        before = stateful.__defaults__[0][0]  # type: ignore[index]
        assert view.compute(one, 1)["late_hour"] == [before + 1]  # Feast's path: one call
    else:
        assert view.compute(one, 1) == through_feast(view, one)


PLAIN_VALUES = {
    ValueType.DOUBLE: [
        1.5,
        None,
        float("nan"),
        float("inf"),
        float("-inf"),
        -0.0,
        0.0,
        1e308,
        5e-324,
    ],
    ValueType.INT64: [0, None, 1, -1, 127, 128, -(2**63), 2**63 - 1, 2**40],
    ValueType.BOOL: [True, None, False],
}
OTHER_VALUES = {
    ValueType.DOUBLE: [1, True, None],  # ints and bools Feast converts to floats
    ValueType.INT64: [True, 1.0, None],
    ValueType.STRING: ["a", None],
    ValueType.FLOAT: [1.5, None],
}


@pytest.mark.parametrize("kind", list(PLAIN_VALUES))
def test_plain_python_outputs_are_served_as_feasts_round_trip_gives_them(kind: ValueType) -> None:
    """A python-mode view's lists skip `ValueProto`s only where that changes nothing."""
    values = PLAIN_VALUES[kind]
    got, want = _served(values, kind), feast_values(values, kind)
    assert [(type(v), v) for v in got] == [(type(v), v) for v in want]


@pytest.mark.parametrize(("kind", "values"), list(OTHER_VALUES.items()))
def test_other_outputs_go_through_feasts_conversion(kind: ValueType, values: list[Any]) -> None:
    got, want = _served(values, kind), feast_values(values, kind)
    assert [(type(v), v) for v in got] == [(type(v), v) for v in want]


@pytest.mark.parametrize(
    ("kind", "array"),
    [
        (ValueType.DOUBLE, np.array([1.5, np.nan, -np.inf, -0.0])),
        (ValueType.INT64, np.array([0, -(2**63), 2**63 - 1], dtype=np.int64)),
        (ValueType.BOOL, np.array([True, False])),
        (ValueType.FLOAT, np.array([1.5, np.nan])),  # another kind: Feast's conversion
        (ValueType.DOUBLE, np.array([1.5, None], dtype=object)),  # another dtype: Feast's too
    ],
)
def test_arrays_are_served_as_feasts_round_trip_gives_them(kind: ValueType, array: Any) -> None:
    got, want = _served(array, kind), feast_values(array, kind)
    assert [(type(v), v) for v in got] == [(type(v), v) for v in want]

"""orjson on the hot path gives the standard library's JSON values: the log's features text
parses to what `json.dumps(features, default=str)` parses to, and a prediction answer renders as
Starlette's `JSONResponse` does (refusing NaN alike)."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any

import numpy as np
import pytest
from fastapi.responses import JSONResponse
from hypothesis import given
from hypothesis import strategies as st

from serving.fast_json import fast_dumps, features_json
from serving.json_response import FastJSONResponse


class Tier(IntEnum):
    GOLD = 1


class Colour(Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


def stdlib(features: dict[str, Any]) -> str:
    return json.dumps(features, default=str)


def same_value(left: str | bytes, right: str | bytes) -> bool:
    """Equal JSON values, NaN equal to NaN."""
    return json.loads(left, parse_constant=str) == json.loads(right, parse_constant=str)


ODD_VALUES: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    None,
    np.float64(0.1),
    np.float32(2.5),
    np.int64(7),
    Tier.GOLD,
    True,
    datetime(2026, 12, 5, 11, 0, tzinfo=UTC),
    date(2026, 12, 5),
    Decimal("1.10"),
    Point(1),
    2**70,
    "null",
    "é ünïcode ☃",
    1e-7,
    1e16,
    -0.0,
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_features_text_keeps_the_standard_librarys_value(value: Any) -> None:
    features = {"plan": "standard", "x": value, "n": 3}
    assert same_value(features_json(features), stdlib(features))


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-(2**80), max_value=2**80),
            st.floats(allow_nan=True, allow_infinity=True),
            st.text(max_size=12),
        ),
        max_size=12,
    )
)
def test_features_text_equals_the_standard_library_on_any_plain_dict(
    features: dict[str, Any],
) -> None:
    assert same_value(features_json(features), stdlib(features))


def test_plain_features_take_orjson_and_the_rest_the_standard_library() -> None:
    """The fast path is taken when it can be: compact text (no spaces) for plain values, the
    standard library's text where a value is not plain (a test that cannot tell the two paths
    apart would pass on either)."""
    plain = {"plan": "standard", "monthly_price": 17.62, "logins_7d": 3, "active": True}
    assert (
        features_json(plain)
        == '{"plan":"standard","monthly_price":17.62,"logins_7d":3,"active":true}'
    )
    for value in (math.nan, math.inf, None, datetime(2026, 1, 1, tzinfo=UTC), np.float64(0.5)):
        odd = {"plan": "standard", "x": value}
        assert features_json(odd) == stdlib(odd), value
    assert fast_dumps({"x": Tier.GOLD}) == b'{"x":1}'  # an IntEnum: its int, as json writes it


def test_a_plain_enum_is_written_as_its_value() -> None:
    """The one value written otherwise than `json.dumps(..., default=str)` (which gave
    `str(member)`): orjson writes an Enum member's value. No online store or on-demand view
    yields one."""
    assert features_json({"x": Colour.RED}) == '{"x":"red"}'


ANSWER = {
    "predictions": [
        {
            "prediction_id": "01KJ",
            "customer_id": 1,
            "churn_probability": 0.123456789,
            "label": 0,
            "model": {"name": "churn", "version": "3", "alias": "champion"},
            "missing_features": ["région"],
        }
    ]
}


@pytest.mark.parametrize(
    "content",
    [ANSWER, {"score": 1e-7, "big": 1e16}, {"label": None, "score": 0.5}, {"x": np.float64(0.25)}],
    ids=["answer", "exponents", "null", "numpy"],
)
def test_answer_body_has_the_value_starlette_renders(content: dict[str, Any]) -> None:
    assert same_value(FastJSONResponse(content).body, JSONResponse(content).body)


def test_answer_body_bytes_equal_starlettes_for_a_plain_answer() -> None:
    assert FastJSONResponse(ANSWER).body == JSONResponse(ANSWER).body


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_non_finite_score_is_refused_as_starlette_refuses_it(value: float) -> None:
    with pytest.raises(ValueError):
        JSONResponse({"score": value})
    with pytest.raises(ValueError):
        FastJSONResponse({"score": value})

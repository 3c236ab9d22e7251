from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from feast.value_type import ValueType

from feature_repo.on_demand import customer_derived, customer_derived_row
from serving.row_transforms import (
    BOOL_PROBES,
    PROBE_VALUES,
    TEXT_PROBES,
    probe_rows,
    verified_twin,
)

INPUTS = ["signup_unix", "sessions_30d", "spend_30d", "logins_7d", "logins_30d", "as_of_unix"]


def test_the_churn_twin_is_proven_equal_to_the_pandas_transform() -> None:
    assert verified_twin("customer_derived", customer_derived, INPUTS) is customer_derived_row


def test_a_twin_that_differs_from_the_registry_transform_is_not_used() -> None:
    def changed(inputs: pd.DataFrame) -> pd.DataFrame:
        out = customer_derived(inputs)
        out["login_trend"] = out["login_trend"] * 2  # the repo changed after `apply`
        return out

    assert verified_twin("customer_derived", changed, INPUTS) is None


def test_views_without_a_twin_keep_their_transform() -> None:
    assert verified_twin("some_other_view", customer_derived, INPUTS) is None


def test_probes_cover_missing_values_and_stay_bounded() -> None:
    rows = probe_rows(INPUTS)
    assert len(rows) == 2000
    assert any(row["sessions_30d"] is None for row in rows)
    assert any(row["sessions_30d"] == 0 for row in rows)
    assert probe_rows(INPUTS) == rows  # seeded


def test_probes_follow_each_inputs_feast_type() -> None:
    kinds = {"zone_type": ValueType.STRING, "rain_mm": ValueType.DOUBLE, "vip": ValueType.BOOL}
    rows = probe_rows({**kinds, "tags": ValueType.STRING_LIST})
    assert {row["zone_type"] for row in rows} == set(TEXT_PROBES)
    assert {row["rain_mm"] for row in rows} == set(PROBE_VALUES)
    assert {row["vip"] for row in rows} == set(BOOL_PROBES)
    assert {row["tags"] for row in rows} == {None}
    assert probe_rows(INPUTS) == probe_rows(dict.fromkeys(INPUTS, ValueType.INT64))


def downtown(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=inputs.index)
    out["is_downtown"] = (inputs["zone_type"] == "downtown").astype("int64")
    out["wet"] = inputs["rain_mm"].astype("float64") > 1.0
    return out


def downtown_row(row: Mapping[str, object]) -> dict[str, object]:
    rain = row["rain_mm"]
    return {
        "is_downtown": int(row["zone_type"] == "downtown"),
        "wet": rain is not None and float(rain) > 1.0,  # type: ignore[arg-type]
    }


def missing_is_downtown(row: Mapping[str, object]) -> dict[str, object]:
    return {**downtown_row(row), "is_downtown": int(row["zone_type"] in ("downtown", None))}


DOWNTOWN_INPUTS = {"zone_type": ValueType.STRING, "rain_mm": ValueType.DOUBLE}


def test_a_twin_over_text_inputs_is_proven_on_text_probes() -> None:
    twins = {"zone_flags": downtown_row}
    assert verified_twin("zone_flags", downtown, DOWNTOWN_INPUTS, twins=twins) is downtown_row


def test_a_twin_wrong_on_missing_text_is_not_used() -> None:
    twins = {"zone_flags": missing_is_downtown}
    assert verified_twin("zone_flags", downtown, DOWNTOWN_INPUTS, twins=twins) is None

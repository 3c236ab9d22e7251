"""Row twins: declared by a Feast repo's `row_twins.py`, used only once proven equal to the
registry's transform on probe rows."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.value_type import ValueType

import feature_repo
from feature_repo.on_demand import customer_derived, customer_derived_row
from serving.row_transforms import (
    BOOL_PROBES,
    PROBE_VALUES,
    TEXT_PROBES,
    probe_rows,
    repo_row_twins,
    verified_twin,
)

INPUTS = ["signup_unix", "sessions_30d", "spend_30d", "logins_7d", "logins_30d", "as_of_unix"]
BUILT_IN_REPO = Path(feature_repo.__file__).parent
DELIVERY_REPO = Path(__file__).parents[2] / "examples" / "delivery" / "feature_repo"
TWINS = repo_row_twins(BUILT_IN_REPO)


def test_the_churn_twin_is_declared_by_its_repo_and_proven_equal() -> None:
    assert {"customer_derived": customer_derived_row} == TWINS
    twin = verified_twin("customer_derived", customer_derived, INPUTS, TWINS)
    assert twin is customer_derived_row


def test_the_delivery_examples_twin_is_proven_equal_to_its_pandas_view() -> None:
    """A user's repo declares its own twin beside its definitions; the view is the one the
    repo registers (its module imported as Feast imports it)."""
    spec = importlib.util.spec_from_file_location(
        "delivery_features_under_test", DELIVERY_REPO / "delivery_features.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    view: OnDemandFeatureView = module.order_features
    inputs = {f.name: f.dtype.to_value_type() for f in module.order_request.schema}
    inputs["traffic_index"] = ValueType.DOUBLE
    twins = repo_row_twins(DELIVERY_REPO)
    assert set(twins) == {"order_features"}
    udf = view.feature_transformation.udf
    assert verified_twin("order_features", udf, inputs, twins) is twins["order_features"]


def write_twins(repo: Path, text: str) -> Path:
    repo.mkdir(exist_ok=True)
    (repo / "row_twins.py").write_text(text)
    return repo


def test_a_repo_without_the_file_has_no_twins(tmp_path: Path) -> None:
    assert repo_row_twins(tmp_path) == {}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("import no_such_module_anywhere\nROW_TWINS = {}\n", "does not import"),
        ("def f(row):\n    return row\n", "has no ROW_TWINS dict"),
        ("ROW_TWINS = [1]\n", "has no ROW_TWINS dict"),
    ],
    ids=["import error", "no dict", "not a dict"],
)
def test_a_broken_twins_file_gives_no_twins_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, why: str
) -> None:
    repo = write_twins(tmp_path / "repo", text)
    with caplog.at_level(logging.WARNING, logger="serving.row_transforms"):
        assert repo_row_twins(repo) == {}
    assert str(repo / "row_twins.py") in caplog.text and why in caplog.text


def test_entries_that_are_not_functions_are_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = write_twins(
        tmp_path / "repo",
        "def ok(row):\n    return {}\nROW_TWINS = {'good': ok, 'bad': 3, 7: ok}\n",
    )
    with caplog.at_level(logging.WARNING, logger="serving.row_transforms"):
        twins = repo_row_twins(repo)
    assert list(twins) == ["good"]
    assert "ROW_TWINS['bad']" in caplog.text and "ROW_TWINS[7]" in caplog.text


def test_a_twin_that_differs_from_the_registry_transform_is_not_used() -> None:
    def changed(inputs: pd.DataFrame) -> pd.DataFrame:
        out = customer_derived(inputs)
        out["login_trend"] = out["login_trend"] * 2  # the repo changed after `apply`
        return out

    assert verified_twin("customer_derived", changed, INPUTS, TWINS) is None


def test_views_without_a_twin_keep_their_transform() -> None:
    assert verified_twin("some_other_view", customer_derived, INPUTS, TWINS) is None


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
    assert verified_twin("zone_flags", downtown, DOWNTOWN_INPUTS, twins) is downtown_row


def test_a_twin_wrong_on_missing_text_is_not_used() -> None:
    twins = {"zone_flags": missing_is_downtown}
    assert verified_twin("zone_flags", downtown, DOWNTOWN_INPUTS, twins) is None

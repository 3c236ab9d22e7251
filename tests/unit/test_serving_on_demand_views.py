"""On-demand views computed by `OnDemandView`: the churn view's proven twin gives exactly what
Feast's own transform path gives, per row, missing values included; views without a twin keep
Feast's transform."""

from __future__ import annotations

from pathlib import Path

import pytest
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.value_type import ValueType

import feature_repo
from feature_repo.definitions import build
from feature_repo.on_demand import customer_derived_row
from serving.on_demand_views import DirectReadsUnsupported, OnDemandView, feast_values
from serving.row_transforms import probe_rows, repo_row_twins

TWINS = repo_row_twins(Path(feature_repo.__file__).parent)


@pytest.fixture(scope="module")
def churn_view(tmp_path_factory: pytest.TempPathFactory) -> OnDemandFeatureView:
    (view,) = build(tmp_path_factory.mktemp("features")).on_demand_views
    return view


def inputs_of(view: OnDemandFeatureView) -> dict[str, ValueType]:
    kinds = {"customer_id": ValueType.INT64}
    for source in view.source_feature_view_projections.values():
        kinds |= {f.name: f.dtype.to_value_type() for f in source.features}
    for request in view.source_request_sources.values():
        kinds |= {f.name: f.dtype.to_value_type() for f in request.schema}
    return kinds


def test_the_twin_gives_what_feasts_transform_gives(churn_view: OnDemandFeatureView) -> None:
    outputs = [f.name for f in churn_view.features]
    inputs = inputs_of(churn_view)
    with_twin = OnDemandView(churn_view, outputs, inputs, TWINS)
    assert with_twin.twin is customer_derived_row
    through_feast = OnDemandView(churn_view, outputs, inputs)
    assert through_feast.twin is None  # no twins given
    rows = probe_rows(inputs, seed=3)[:300]
    columns = {name: [row[name] for row in rows] for name in inputs}
    got = with_twin.compute(columns, len(rows))
    assert got == through_feast.compute(columns, len(rows))
    assert any(v is None for v in got["tenure_days"]) and any(v for v in got["tenure_days"])
    for i in (0, 1, 7):  # one row alone: its columns' types are inferred from it only
        one = {name: [values[i]] for name, values in columns.items()}
        assert with_twin.compute(one, 1) == through_feast.compute(one, 1)


def test_a_view_without_a_twin_keeps_feasts_transform(churn_view: OnDemandFeatureView) -> None:
    renamed = churn_view.__copy__()
    renamed.name = "customer_derived_v2"
    view = OnDemandView(renamed, ["login_trend"], inputs_of(churn_view), TWINS)
    assert view.twin is None
    rows = probe_rows(inputs_of(churn_view))[:40]
    columns = {name: [row[name] for row in rows] for name in inputs_of(churn_view)}
    twin = [customer_derived_row(row)["login_trend"] for row in rows]
    expected = [None if value != value else value for value in twin]  # NaN: Feast's None
    assert view.compute(columns, 40) == {"login_trend": expected}


def test_views_stored_online_are_not_computed(churn_view: OnDemandFeatureView) -> None:
    stored = churn_view.__copy__()
    stored.write_to_online_store = True
    with pytest.raises(DirectReadsUnsupported, match="writes to the online store"):
        OnDemandView(stored, ["login_trend"], inputs_of(churn_view))


def test_values_convert_as_feast_stores_them() -> None:
    assert feast_values([1.0, float("nan"), None], ValueType.DOUBLE) == [1.0, None, None]
    assert feast_values([1.9, 2], ValueType.INT64) == [1, 2]
    assert feast_values([True, None], ValueType.BOOL) == [True, None]

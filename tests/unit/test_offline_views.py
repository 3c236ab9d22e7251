"""A pandas on-demand view applied to a training set by `PandasViewOffline` gives exactly what
Feast's own `transform_arrow` gives, and its function is handed the same frame (columns, names,
order, dtypes, values), missing values included, with short or full feature names."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feast.on_demand_feature_view import OnDemandFeatureView

from feature_repo.definitions import build
from keel.feast_plumbing.offline_views import PandasViewOffline, offline_views


@pytest.fixture(scope="module")
def churn_view(tmp_path_factory: pytest.TempPathFactory) -> OnDemandFeatureView:
    (view,) = build(tmp_path_factory.mktemp("features")).on_demand_views
    return view


def training_rows(view: OnDemandFeatureView, rows: int, *, full_names: bool) -> pa.Table:
    """A training set as Keel's offline store returns it: entity columns, then every source
    feature (a tenth of each missing), plus one string feature of another view."""
    rng = np.random.default_rng(5)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    columns: dict[str, Any] = {
        "customer_id": np.arange(rows),
        "event_timestamp": [start + timedelta(hours=i) for i in range(rows)],
        "as_of_unix": 1_767_225_600 + np.arange(rows) * 3600,
    }
    for projection in view.source_feature_view_projections.values():
        for feature in projection.features:
            name = f"{projection.name}__{feature.name}" if full_names else feature.name
            values = rng.integers(0, 50, rows).astype(float)
            if feature.dtype.to_value_type().name == "STRING":
                columns[name] = pa.array(
                    [None if i % 10 == 3 else f"v{int(v)}" for i, v in enumerate(values)]
                )
            else:
                columns[name] = pa.array(values, mask=np.arange(rows) % 10 == 7)
    columns["tickets_30d"] = pa.array(rng.integers(0, 3, rows), mask=np.arange(rows) % 9 == 0)
    return pa.table(columns)


def capturing(view: OnDemandFeatureView, seen: list[pd.DataFrame]) -> OnDemandFeatureView:
    """A copy of `view` whose function records the frame it is given."""
    spy = copy.copy(view)
    spy.feature_transformation = copy.copy(view.feature_transformation)
    udf = view.feature_transformation.udf

    def recording(frame: pd.DataFrame) -> pd.DataFrame:
        seen.append(frame.copy())
        return udf(frame)

    spy.feature_transformation.udf = recording
    return spy


@pytest.mark.parametrize("full_names", [False, True], ids=["short names", "full names"])
def test_the_same_frame_in_and_the_same_table_out(
    churn_view: OnDemandFeatureView, full_names: bool
) -> None:
    table = training_rows(churn_view, 500, full_names=full_names)
    feasts: list[pd.DataFrame] = []
    ours: list[pd.DataFrame] = []
    expected = capturing(churn_view, feasts).transform_arrow(table, full_names)
    got = PandasViewOffline(capturing(churn_view, ours)).transform_arrow(table, full_names)
    assert got.equals(expected) and got.schema == expected.schema
    assert (
        got.num_rows == 500
        and got.column("login_trend" if not full_names else got.column_names[-1]).null_count > 0
    )
    pd.testing.assert_frame_equal(ours[0], feasts[0])  # names, order, dtypes, values
    assert len(ours[0].columns) > table.num_columns  # both names of each source feature


def test_a_name_twice_is_left_to_feasts_conversion(churn_view: OnDemandFeatureView) -> None:
    table = training_rows(churn_view, 50, full_names=False)
    doubled = table.append_column("customer_id", table.column("customer_id"))
    seen: list[pd.DataFrame] = []
    got = PandasViewOffline(capturing(churn_view, seen)).transform_arrow(doubled, False)
    assert got.equals(churn_view.transform_arrow(doubled, False))
    assert list(seen[0].columns).count("customer_id") == 2


def test_only_pandas_views_are_wrapped(churn_view: OnDemandFeatureView) -> None:
    python_mode = copy.copy(churn_view)
    python_mode.mode = "python"
    python_mode.feature_transformation = object()  # not a PandasTransformation
    wrapped, kept = offline_views([churn_view, python_mode])
    assert isinstance(wrapped, PandasViewOffline) and wrapped.name == churn_view.name
    assert kept is python_mode

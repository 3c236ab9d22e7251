"""A pandas on-demand view applied to a training set gets only the columns its function reads,
when its source shows them, and gives exactly what Feast's `transform_arrow` gives on the whole
table (missing values included, short or full feature names); any other use of the input frame
keeps the whole table."""

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
from keel.feast_plumbing.offline_views import ColumnsReadView, columns_read, offline_views

CHURN_READS = {"as_of_unix", "signup_unix", "sessions_30d", "spend_30d", "logins_7d", "logins_30d"}


@pytest.fixture(scope="module")
def churn_view(tmp_path_factory: pytest.TempPathFactory) -> OnDemandFeatureView:
    (view,) = build(tmp_path_factory.mktemp("features")).on_demand_views
    return view


def training_rows(view: OnDemandFeatureView, rows: int, *, full_names: bool) -> pa.Table:
    """A training set as Keel's offline store returns it: entity columns, then every source
    feature (a tenth of each missing), plus a feature of another view."""
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
            if feature.dtype.to_value_type().name == "STRING":
                columns[name] = pa.array([None if i % 10 == 3 else f"v{i}" for i in range(rows)])
            else:
                values = rng.integers(0, 50, rows).astype(float)
                columns[name] = pa.array(values, mask=np.arange(rows) % 10 == 7)
    columns["tickets_30d"] = pa.array(rng.integers(0, 3, rows), mask=np.arange(rows) % 9 == 0)
    return pa.table(columns)


def capturing(view: OnDemandFeatureView, seen: list[pd.DataFrame]) -> OnDemandFeatureView:
    """A copy of `view` whose function records the frame it is given."""
    spy = copy.copy(view)
    spy.feature_transformation = copy.copy(view.feature_transformation)
    udf = view.feature_transformation.udf

    def recording(frame: pd.DataFrame) -> pd.DataFrame:
        seen.append(frame)
        return udf(frame)

    spy.feature_transformation.udf = recording
    return spy


def test_the_churn_functions_reads_are_read_off_its_source(
    churn_view: OnDemandFeatureView,
) -> None:
    assert columns_read(churn_view.feature_transformation.udf_string) == CHURN_READS


@pytest.mark.parametrize(
    "body",
    [
        "return inputs[name]",  # a name computed at run time
        "return inputs[['a', 'b']]",  # a list of names
        "return inputs.copy()",  # another attribute
        "frame = inputs\n    return frame['a']",  # aliased
        "inputs['a'] = 1\n    return inputs",  # written to
        "return helper(inputs)",  # passed on
        "return inputs.assign(b=inputs['a'])",
    ],
)
def test_any_other_use_of_the_frame_keeps_the_whole_table(body: str) -> None:
    assert columns_read(f"def f(inputs):\n    {body}\n") is None


def test_a_decorated_function_and_index_use_are_read() -> None:
    source = (
        "@on_demand_feature_view(sources=[a, b], schema=[Field(name='x', dtype=Float64)])\n"
        "def f(inputs: pd.DataFrame) -> pd.DataFrame:\n"
        "    out = pd.DataFrame(index=inputs.index)\n"
        "    out['x'] = inputs['distance_km'] * inputs['traffic_index']\n"
        "    return out\n"
    )
    assert columns_read(source) == {"distance_km", "traffic_index"}
    assert columns_read("not python (") is None
    assert columns_read("x = 1\n") is None


@pytest.mark.parametrize("full_names", [False, True], ids=["short names", "full names"])
def test_only_the_read_columns_and_the_same_result(
    churn_view: OnDemandFeatureView, full_names: bool
) -> None:
    table = training_rows(churn_view, 500, full_names=full_names)
    (wrapped,) = offline_views([churn_view])
    assert isinstance(wrapped, ColumnsReadView)
    expected = churn_view.transform_arrow(table, full_names)
    seen: list[pd.DataFrame] = []
    got = ColumnsReadView(capturing(churn_view, seen), CHURN_READS).transform_arrow(
        table, full_names
    )
    assert got.equals(expected) and got.schema == expected.schema
    assert got.column(got.num_columns - 1).null_count > 0  # missing values went through
    # Each column the function reads, once, by the name it reads; nothing else.
    assert sorted(seen[0].columns) == sorted(CHURN_READS)


def test_a_view_whose_reads_are_unknown_gets_the_whole_table(
    churn_view: OnDemandFeatureView,
) -> None:
    opaque = copy.copy(churn_view)
    opaque.feature_transformation = copy.copy(churn_view.feature_transformation)
    opaque.feature_transformation.udf_string = "def f(inputs):\n    return g(inputs)\n"
    python_mode = copy.copy(churn_view)
    python_mode.mode = "python"
    assert offline_views([opaque, python_mode]) == [opaque, python_mode]

"""On-demand views applied to a training set with only the columns their function reads.

Feast's `OnDemandFeatureView.transform_arrow` converts the whole result to pandas before a
pandas-mode function runs, every source feature under two names (`feature` and
`view__feature`): 34 columns for the churn example's 20, 0.39 s of a 1M-row training set in a
fresh process, for a function that reads six of them. When the function's source shows that
its input frame is used only as `frame["<literal name>"]` and `frame.index`, the function gets
just those columns, each once, through Feast's own steps (`ColumnsReadView.transform_arrow`);
any other use of the frame, or a source that cannot be read, and the view gets the whole table
as before.
"""

from __future__ import annotations

import ast
import textwrap
from typing import Any

import pyarrow as pa
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.transformation.pandas_transformation import PandasTransformation

FRAME_ATTRIBUTES = frozenset({"index"})
"""Attributes of the input frame a function may read and still get only its columns."""


def source_feature_names(view: OnDemandFeatureView) -> list[tuple[str, str]]:
    """(short, full) name of each source feature of `view`: the two names Feast's
    `_preprocess_arrow_table` gives one column (`feature`, `view__feature`)."""
    return [
        (feature.name, f"{projection.name}__{feature.name}")
        for projection in view.source_feature_view_projections.values()
        for feature in projection.features
    ]


def _function(source: str) -> ast.FunctionDef | None:
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    return functions[0] if len(functions) == 1 else None


def columns_read(source: str) -> frozenset[str] | None:
    """The columns a pandas function reads from its input frame (its first parameter), when
    every use of that frame is `frame["literal"]` or an attribute in `FRAME_ATTRIBUTES`; None
    otherwise (a name computed at run time, the frame passed on, aliased or rebound)."""
    function = _function(source)
    if function is None or not function.args.args:
        return None
    frame = function.args.args[0].arg
    allowed: set[int] = set()
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id == frame:
                key = node.slice
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    return None
                if not isinstance(node.ctx, ast.Load):
                    return None
                names.add(key.value)
                allowed.add(id(node.value))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == frame
        ):
            if node.attr not in FRAME_ATTRIBUTES or not isinstance(node.ctx, ast.Load):
                return None
            allowed.add(id(node.value))
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id == frame and id(node) not in allowed:
            return None  # the frame used any other way
    return frozenset(names)


class ColumnsReadView:
    """`view` whose `transform_arrow` is handed only the columns its function reads."""

    def __init__(self, view: OnDemandFeatureView, columns: frozenset[str]) -> None:
        self._view = view
        self._reads = columns
        self._keep = set(columns)
        for short, full in source_feature_names(view):
            if short in columns or full in columns:
                self._keep |= {short, full}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)

    def transform_arrow(self, pa_table: pa.Table, full_feature_names: bool = False) -> pa.Table:
        """Feast's `transform_arrow`, its own three steps, on the columns the function reads.

        Feast's preprocessing gives each source feature its second name, which the function
        does not read but pandas would convert again (11 columns for the built-in example's 6
        reads: 0.094 s against 0.034 s at 1M rows); only the names the function reads go on.
        """
        view = self._view
        assert view.feature_transformation is not None  # as Feast's own transform_arrow asserts
        table = pa_table.select([name for name in pa_table.column_names if name in self._keep])
        table, cleanup = view._preprocess_arrow_table(table)
        table = table.select([name for name in table.column_names if name in self._reads])
        transformed = view.feature_transformation.transform_arrow(table, view.features)
        return view._postprocess_arrow_table(transformed, cleanup, full_feature_names)


def offline_views(views: list[OnDemandFeatureView]) -> list[Any]:
    """The views as a training set applies them: a pandas view whose function's reads are
    known gets only those columns."""
    out: list[Any] = []
    for view in views:
        transformation = view.feature_transformation
        columns = None
        if view.mode == "pandas" and isinstance(transformation, PandasTransformation):
            columns = columns_read(transformation.udf_string or "")
        out.append(view if columns is None else ColumnsReadView(view, columns))
    return out

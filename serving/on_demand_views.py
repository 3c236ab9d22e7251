"""On-demand feature views computed exactly as `FeatureStore.get_online_features` computes them.

Feast hands a pandas-mode view `pa.Table.from_pydict(response).to_pandas()` (the join keys, the
request fields and the features of the view's declared sources) and a python-mode view the same
columns as lists, then converts every output to the view's declared type. `OnDemandView` does
the same with Feast's own `transform_arrow` / `transform_dict`, or, for a pandas view whose
row-wise twin was proven equal (`serving.row_transforms`), runs the twin row by row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.value_type import ValueType

from serving.row_transforms import RowTransform, verified_twin


class DirectReadsUnsupported(ValueError):
    """The feature service uses a Feast feature the direct reads do not reproduce."""


def feast_values(values: Any, kind: ValueType) -> list[Any]:
    """`values` as Feast returns them once stored as `kind` (`ValueProto` and back)."""
    return [feast_value_type_to_python_type(v) for v in python_values_to_proto_values(values, kind)]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _typed(value: Any, kind: ValueType) -> Any:
    """One twin output as Feast's conversion to `kind` gives it (the common types directly)."""
    if _missing(value):
        return None
    if kind == ValueType.DOUBLE and isinstance(value, float | int) and not isinstance(value, bool):
        return float(value)
    if kind == ValueType.INT64 and type(value) is int:
        return value
    return feast_values([value], kind)[0]


class OnDemandView:
    """One on-demand view of a feature service: `compute` its outputs for a batch of rows."""

    def __init__(
        self,
        odfv: OnDemandFeatureView,
        outputs: Sequence[str],
        inputs: Mapping[str, ValueType],
    ) -> None:
        if odfv.write_to_online_store or odfv.aggregations:
            raise DirectReadsUnsupported(
                f"on-demand view {odfv.name} writes to the online store or aggregates"
            )
        if odfv.mode not in ("pandas", "python") or odfv.feature_transformation is None:
            raise DirectReadsUnsupported(f"on-demand view {odfv.name} has mode {odfv.mode!r}")
        self.name = odfv.name
        self._odfv = odfv
        types = {field.name: field.dtype.to_value_type() for field in odfv.features}
        self.outputs = [(name, types.get(name, ValueType.UNKNOWN)) for name in outputs]
        self.inputs = list(inputs)
        self.twin: RowTransform | None = None
        udf = getattr(odfv.feature_transformation, "udf", None)
        if odfv.mode == "pandas" and udf is not None:
            self.twin = verified_twin(odfv.name, udf, inputs)

    def compute(self, columns: Mapping[str, list[Any]], size: int) -> dict[str, list[Any]]:
        """The outputs (name -> one value per row) for `size` rows of input `columns`."""
        if self.twin is not None:
            twin = self.twin
            rows = [twin({name: columns[name][i] for name in self.inputs}) for i in range(size)]
            return {name: [_typed(row[name], kind) for row in rows] for name, kind in self.outputs}
        inputs = {name: columns[name] for name in self.inputs}
        if self._odfv.mode == "python":
            produced = self._odfv.transform_dict(inputs)
            return {
                name: feast_values(
                    produced[name] if isinstance(produced[name], list) else [produced[name]], kind
                )
                for name, kind in self.outputs
            }
        table = self._odfv.transform_arrow(pa.Table.from_pydict(inputs), False)
        return {name: feast_values(table[name].to_numpy(), kind) for name, kind in self.outputs}

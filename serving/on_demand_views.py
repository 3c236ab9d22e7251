"""On-demand feature views computed exactly as `FeatureStore.get_online_features` computes them.

Feast hands a pandas-mode view `pa.Table.from_pydict(response).to_pandas()` (the join keys, the
request fields and the features of the view's declared sources) and a python-mode view the same
columns as lists, then converts every output to the view's declared type. `OnDemandView` does
the same with Feast's own `transform_arrow` / `transform_dict`, or, for a pandas view whose
row-wise twin was proven equal (`serving.row_transforms`), runs the twin row by row.

A pandas view without a twin runs its function directly once proven equal to Feast's path on
the twins' probe rows (one row at a time and in batches): the function gets the frame Feast
gives it (the input columns, plus the short or full names Feast adds for the source views'
features, through `pa.Table.from_pydict(...).to_pandas()`), and each declared output is taken
from the frame it returns as Feast's `pa.Table.from_pandas` and renaming would give it, without
converting the whole frame to Arrow and back, and common outputs convert without `ValueProto`s
(delivery example: 1.9 -> 1.5 ms a call for one row, 2.6 -> 1.5 ms for 100). One difference
stays: Feast fails when an undeclared column of the returned frame cannot become Arrow; the
direct path ignores such columns. (Not `to_pandas(split_blocks=True)`: its numeric columns are
read-only, which a function assigning into its input would notice.)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.value_type import ValueType

from keel.feast_plumbing.offline_views import source_feature_names
from serving.row_transforms import PROBE_VALUES, RowTransform, probe_rows, verified_twin

logger = logging.getLogger(__name__)

SINGLE_ROW_PROBES = len(PROBE_VALUES) + 10
"""Probe rows checked one at a time (column types are inferred from that row alone): the rows
of one probe position for every input, then random mixes."""


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


_PLAIN_TYPES = {ValueType.DOUBLE: float, ValueType.INT64: int, ValueType.BOOL: bool}
"""The served types whose plain Python values Feast's `ValueProto` round trip gives back as
they are (a float's NaN as None): `_served` skips the round trip for them."""
_PLAIN_DTYPES = {ValueType.DOUBLE: np.float64, ValueType.INT64: np.int64, ValueType.BOOL: np.bool_}
"""The NumPy dtype whose `tolist()` gives those plain values."""


def _served(values: Any, kind: ValueType) -> list[Any]:
    """`feast_values(values, kind)` without `ValueProto`s where the round trip changes nothing:
    a list of exactly floats (DOUBLE), ints (INT64) or bools (BOOL), None allowed, as python-mode
    views return them, or an array of the matching dtype (float64, int64, bool)."""
    if isinstance(values, np.ndarray):
        dtype = _PLAIN_DTYPES.get(kind)
        if dtype is None or values.dtype != dtype:  # (NumPy reads a None dtype as float64)
            return feast_values(values, kind)
        values = values.tolist()
    plain = _PLAIN_TYPES.get(kind)
    if plain is None or not all(v is None or type(v) is plain for v in values):
        return feast_values(values, kind)
    if plain is float:
        return [None if v is None or v != v else v for v in values]
    return list(values)


def _identical(a: Any, b: Any) -> bool:
    """`a` and `b` are the same served value: same type and value, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _added_columns(
    odfv: OnDemandFeatureView, inputs: Sequence[str]
) -> list[tuple[str, str]] | None:
    """(name, copied column) that `OnDemandFeatureView._preprocess_arrow_table` appends to a
    table of columns `inputs`: the short name of a source feature present under its full name,
    or the full name of one present under its short name. None when Feast would append a name
    already there (a frame with two columns of one name: not reproduced)."""
    names = list(inputs)
    added: list[tuple[str, str]] = []
    for short, full in source_feature_names(odfv):
        if full in names:
            if short in names:
                return None
            added.append((short, full))
            names.append(short)
        elif short in names:
            added.append((full, short))
            names.append(full)
    return added


def _arrow_numpy(column: pd.Series) -> Any:
    """`column` as `pa.Table.from_pandas(frame)[name].to_numpy()` gives it."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        return column.to_numpy()  # the same values (NaN for a float's missing value)
    array = pa.Array.from_pandas(column)
    chunked = array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
    return chunked.to_numpy()


class OnDemandView:
    """One on-demand view of a feature service: `compute` its outputs for a batch of rows."""

    def __init__(
        self,
        odfv: OnDemandFeatureView,
        outputs: Sequence[str],
        inputs: Mapping[str, ValueType],
        twins: Mapping[str, RowTransform] | None = None,
    ) -> None:
        """`twins`: the repo's row twins (`row_transforms.repo_row_twins`), by view name."""
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
        self.direct = False
        """The pandas function runs on its frame directly (proven equal to Feast's path)."""
        udf = getattr(odfv.feature_transformation, "udf", None)
        if odfv.mode == "pandas" and udf is not None:
            self.twin = verified_twin(odfv.name, udf, inputs, twins or {})
            if self.twin is None:
                self._udf: Callable[[pd.DataFrame], Any] = udf
                added = _added_columns(odfv, self.inputs)
                self._added = added or []
                self._cleanup = {name for name, _ in self._added}
                self._short = {
                    f"{odfv.projection.name_to_use()}__{f.name}": f.name for f in odfv.features
                }
                self.direct = added is not None and self._direct_is_exact(inputs)

    @property
    def path(self) -> str:
        """How the view is computed: "row twin", "pandas" (its function on Feast's frame,
        called directly), "python" (Feast's python mode) or "feast" (Feast's own transform)."""
        if self.twin is not None:
            return "row twin"
        if self.direct:
            return "pandas"
        return "python" if self._odfv.mode == "python" else "feast"

    def compute(self, columns: Mapping[str, list[Any]], size: int) -> dict[str, list[Any]]:
        """The outputs (name -> one value per row) for `size` rows of input `columns`."""
        if self.twin is not None:
            twin = self.twin
            rows = [twin({name: columns[name][i] for name in self.inputs}) for i in range(size)]
            return {name: [_typed(row[name], kind) for row in rows] for name, kind in self.outputs}
        inputs = {name: columns[name] for name in self.inputs}
        if self.direct:
            return self._direct(inputs)
        if self._odfv.mode == "python":
            produced = self._odfv.transform_dict(inputs)
            return {
                name: _served(
                    produced[name] if isinstance(produced[name], list) else [produced[name]], kind
                )
                for name, kind in self.outputs
            }
        return self._through_feast(inputs)

    def _through_feast(self, inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
        table = self._odfv.transform_arrow(pa.Table.from_pydict(inputs), False)
        return {name: feast_values(table[name].to_numpy(), kind) for name, kind in self.outputs}

    def _direct(self, inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """What `_through_feast` gives, calling the pandas function on Feast's frame directly."""
        for name, copied in self._added:
            inputs[name] = inputs[copied]
        produced = self._udf(pa.Table.from_pydict(inputs).to_pandas())
        if not isinstance(produced, pd.DataFrame):
            raise TypeError(f"on-demand view {self.name} returned {type(produced).__name__}")
        return {
            name: _served(_arrow_numpy(self._output(produced, name)), kind)
            for name, kind in self.outputs
        }

    def _output(self, frame: pd.DataFrame, name: str) -> pd.Series:
        """Output `name` of the function's `frame` as Feast's `_postprocess_arrow_table` names
        it: its temporary input columns dropped, the view's full feature names made short."""
        found = [
            column
            for column in frame.columns
            if str(column) not in self._cleanup
            and self._short.get(str(column), str(column)) == name
        ]
        if len(found) != 1:
            raise KeyError(f"on-demand view {self.name}: {len(found)} columns give {name!r}")
        column = frame[found[0]]
        if not isinstance(column, pd.Series):
            raise KeyError(f"on-demand view {self.name}: column {name!r} is duplicated")
        return column

    def _direct_is_exact(self, kinds: Mapping[str, ValueType]) -> bool:
        """The direct path gives what Feast's gives on the probe rows, each of the first alone,
        the first together and all together; else (or on any error) a warning and False."""
        rows = probe_rows(kinds)
        batches = [rows[i : i + 1] for i in range(SINGLE_ROW_PROBES)]
        batches += [rows[: len(PROBE_VALUES)], rows]
        for batch in batches:
            columns = {name: [row[name] for row in batch] for name in self.inputs}
            try:
                want = self._through_feast(dict(columns))
                got = self._direct(dict(columns))
            except Exception as error:  # a path that cannot even run on probes is not trusted
                logger.warning(
                    "on-demand view %s failed on probe rows (%s): using Feast's transform",
                    self.name,
                    error,
                )
                return False
            for name, _ in self.outputs:
                if len(got[name]) != len(want[name]) or not all(
                    _identical(a, b) for a, b in zip(got[name], want[name], strict=True)
                ):
                    logger.warning(
                        "direct pandas path of on-demand view %s differs from Feast's on %s "
                        "(output %s): using Feast's transform",
                        self.name,
                        batch[0] if len(batch) == 1 else f"{len(batch)} probe rows",
                        name,
                    )
                    return False
        return True

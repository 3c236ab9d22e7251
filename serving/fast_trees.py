"""Histogram gradient boosting through Treelite, its categories encoded with precomputed maps.

Training's tree pipelines ordinal-encode categories (unknown and missing: -1) and pass numbers
through; scikit-learn's `HistGradientBoosting*` treats a negative category code as missing.
Here the same encoding is a dict lookup per value (unknown and missing categories: NaN, which
the trees route exactly as scikit-learn does), and the trees are evaluated by Treelite's GTIL in
float64, one thread for small batches (`PARALLEL_ROWS`): no DataFrame, ColumnTransformer or
OpenMP pool per call.
Why Treelite and not ONNX Runtime: see benchmarks/README.md ("Scoring runtimes").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from serving.fast_rows import Rows, missing

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

PARALLEL_ROWS = 64
"""From this many rows on, GTIL uses every core; below, one thread. A batch of 100 entities on
the bench's 300 trees: 1.33 ms on one thread, 0.72 on two (batch of 100 at c=1, p50 8.2-8.4 ->
7.3-7.7 ms; no loss at c=8). A micro-batch of single-entity requests (about 8 rows at c=8)
stays on one: OpenMP's start costs as much as it saves there (0.125 vs 0.122 ms for 8 rows)."""


class TreeScorer:
    """Encoded rows -> a Treelite model (probability of class 1, or the regression value)."""

    path = "treelite"

    def __init__(self, model: Any, columns: list[tuple[str, dict[Any, float] | None]]) -> None:
        """`columns`: the model's input columns in order; a map for an encoded category (values
        it does not hold are NaN), None for a number passed through."""
        import treelite.gtil

        self._model = model
        self._predict = treelite.gtil.predict
        self.columns = columns

    def matrix(self, rows: Rows) -> np.ndarray:
        out = np.empty((len(rows), len(self.columns)))
        for j, (name, codes) in enumerate(self.columns):
            if codes is None:
                out[:, j] = [np.nan if (v := row.get(name)) is None else v for row in rows]
            else:
                out[:, j] = [
                    np.nan if missing(v := row.get(name)) else codes.get(v, np.nan) for row in rows
                ]
        return out

    def __call__(self, rows: Rows) -> np.ndarray:
        threads = 1 if len(rows) < PARALLEL_ROWS else 0
        scores = self._predict(self._model, self.matrix(rows), nthread=threads)
        return np.asarray(scores, dtype=float).reshape(len(rows))

    def state(self) -> dict[str, Any]:
        """The column encodings (the trees themselves: `trees_bytes`)."""
        return {
            "columns": [
                [name, None if codes is None else list(codes.items())]
                for name, codes in self.columns
            ]
        }

    def trees_bytes(self) -> bytes:
        return bytes(self._model.serialize_bytes())

    @classmethod
    def from_state(cls, state: dict[str, Any], trees: bytes) -> TreeScorer:
        import treelite

        columns: list[tuple[str, dict[Any, float] | None]] = [
            (str(name), None if codes is None else {v: float(c) for v, c in codes})
            for name, codes in state["columns"]
        ]
        return cls(treelite.Model.deserialize_bytes(trees), columns)


def _passthrough(transformer: Any) -> bool:
    """`"passthrough"`: a fitted ColumnTransformer holds it as an identity FunctionTransformer."""
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(transformer, FunctionTransformer):
        return transformer.func is None and transformer.inverse_func is None
    return isinstance(transformer, str) and transformer == "passthrough"


def _codes(encoder: OrdinalEncoder, index: int, categorical: bool) -> dict[Any, float] | None:
    """Category -> code as the model sees it; None when the encoder's shape is not training's."""
    if encoder.handle_unknown != "use_encoded_value" or getattr(
        encoder, "_infrequent_enabled", False
    ):
        return None
    unknown, missing_code = float(encoder.unknown_value), float(encoder.encoded_missing_value)
    # The trees read a negative code of a categorical feature as missing (NaN here); anything
    # else would have to be carried as is, which these maps cannot say: not compiled.
    if not categorical or not (unknown < 0 or np.isnan(unknown)):
        return None
    if not (missing_code < 0 or np.isnan(missing_code)):
        return None
    values = encoder.categories_[index].tolist()
    return {v: float(i) for i, v in enumerate(values) if not missing(v)}


def compile_trees(pipeline: Pipeline) -> TreeScorer | None:
    """A `TreeScorer` equal to the pipeline, or None if its shape is not training's."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        return None
    preprocess, model = (step for _, step in pipeline.steps)
    if not isinstance(preprocess, ColumnTransformer) or preprocess.sparse_output_:
        return None
    if isinstance(model, HistGradientBoostingClassifier):
        if list(model.classes_) != [0, 1]:
            return None
    elif not isinstance(model, HistGradientBoostingRegressor):
        return None
    is_categorical = model.is_categorical_
    columns: list[tuple[str, dict[Any, float] | None]] = []
    for name, transformer, names in preprocess.transformers_:
        if name == "remainder" and transformer == "drop":
            continue
        for index, column in enumerate(names):
            position = len(columns)
            categorical = is_categorical is not None and bool(is_categorical[position])
            if _passthrough(transformer) and not categorical:
                columns.append((str(column), None))
            elif isinstance(transformer, OrdinalEncoder):
                codes = _codes(transformer, index, categorical)
                if codes is None:
                    return None
                columns.append((str(column), codes))
            else:
                return None
    if len(columns) != model.n_features_in_:
        return None
    import treelite.sklearn

    return TreeScorer(treelite.sklearn.import_model(model), columns)

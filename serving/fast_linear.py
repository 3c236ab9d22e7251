"""Linear pipelines as arrays: impute, scale, one-hot, dot, then a sigmoid (classifier) or not.

Training's logistic-regression and ridge pipelines (median-impute + scale numeric features,
constant-impute + one-hot categories) become a few NumPy operations on the fitted parameters:
the same arithmetic, without a DataFrame or a ColumnTransformer per call. No inference runtime
is needed here: Treelite serves only trees, and NumPy already does a dot product exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit

from serving.fast_rows import Rows, missing, numeric_matrix

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


class LinearScorer:
    """`intercept + x @ weights` on imputed, scaled numbers plus a weight per category; through a
    sigmoid for a classifier (the probability of class 1), as is for a regressor."""

    path = "numpy-linear"

    def __init__(
        self,
        numeric: list[str],
        fill: np.ndarray,
        weights: np.ndarray,
        offset: float,
        categorical: list[tuple[str, Any, dict[Any, float]]],
        *,
        logistic: bool = True,
    ) -> None:
        """`weights` apply to the imputed, unscaled numbers (the scaler folded in)."""
        self.numeric = numeric
        self._fill = fill
        self._weights = weights
        self._offset = offset
        self.categorical = categorical
        self.logistic = logistic

    @classmethod
    def fitted(
        cls,
        numeric: list[str],
        fill: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        weights: np.ndarray,
        categorical: list[tuple[str, Any, dict[Any, float]]],
        intercept: float,
        *,
        logistic: bool = True,
    ) -> LinearScorer:
        """From the fitted imputer, scaler and model: the scaler folded into the weights."""
        offset = intercept - float(np.dot(mean / scale, weights))
        return cls(numeric, fill, weights / scale, offset, categorical, logistic=logistic)

    def __call__(self, rows: Rows) -> np.ndarray:
        values = numeric_matrix(rows, self.numeric)
        values = np.where(np.isnan(values), self._fill, values)
        out = values @ self._weights + self._offset
        for name, fill, weight_of in self.categorical:
            out += np.array(
                [weight_of.get(fill if missing(v := row.get(name)) else v, 0.0) for row in rows]
            )
        if not self.logistic:
            return np.asarray(out, dtype=float)
        return np.asarray(expit(out), dtype=float)

    def state(self) -> dict[str, Any]:
        return {
            "numeric": self.numeric,
            "fill": self._fill.tolist(),
            "weights": self._weights.tolist(),
            "offset": self._offset,
            "categorical": [
                [name, fill, list(weight_of.items())] for name, fill, weight_of in self.categorical
            ],
            "logistic": self.logistic,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LinearScorer:
        return cls(
            [str(name) for name in state["numeric"]],
            np.asarray(state["fill"], dtype=float),
            np.asarray(state["weights"], dtype=float),
            float(state["offset"]),
            [
                (str(name), fill, {value: float(weight) for value, weight in pairs})
                for name, fill, pairs in state["categorical"]
            ],
            logistic=bool(state["logistic"]),
        )


def _numeric_part(transformer: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(transformer, Pipeline) or len(transformer.steps) != 2:
        return None
    imputer, scaler = (step for _, step in transformer.steps)
    if not isinstance(imputer, SimpleImputer) or not isinstance(scaler, StandardScaler):
        return None
    fill = np.asarray(imputer.statistics_, dtype=float)
    if imputer.add_indicator or np.isnan(fill).any():
        return None
    mean = scaler.mean_ if scaler.with_mean else np.zeros_like(fill)
    scale = scaler.scale_ if scaler.with_std else np.ones_like(fill)
    return fill, np.asarray(mean, dtype=float), np.asarray(scale, dtype=float)


def _categorical_part(transformer: Any) -> tuple[Any, list[np.ndarray]] | None:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    if not isinstance(transformer, Pipeline) or len(transformer.steps) != 2:
        return None
    imputer, encoder = (step for _, step in transformer.steps)
    if not isinstance(imputer, SimpleImputer) or not isinstance(encoder, OneHotEncoder):
        return None
    if imputer.strategy != "constant" or imputer.add_indicator or encoder.drop is not None:
        return None
    if encoder.handle_unknown != "ignore" or getattr(encoder, "_infrequent_enabled", False):
        return None
    return imputer.fill_value, list(encoder.categories_)


def _coefficients(model: Any) -> tuple[np.ndarray, float, bool] | None:
    """(weights, intercept, logistic) of a binary logistic regression or a linear regressor."""
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeCV

    if isinstance(model, LogisticRegression):
        if model.coef_.shape[0] != 1 or list(model.classes_) != [0, 1]:
            return None
        return np.asarray(model.coef_[0], dtype=float), float(model.intercept_[0]), True
    if isinstance(model, Ridge | RidgeCV | LinearRegression) and np.ndim(model.coef_) == 1:
        return np.asarray(model.coef_, dtype=float), float(model.intercept_), False
    return None


def compile_linear(pipeline: Pipeline) -> LinearScorer | None:
    """A `LinearScorer` equal to the pipeline, or None if its shape is not training's."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        return None
    preprocess, model = (step for _, step in pipeline.steps)
    found = _coefficients(model)
    if not isinstance(preprocess, ColumnTransformer) or found is None:
        return None
    if preprocess.sparse_output_:
        return None
    coef, intercept, logistic = found
    numeric: list[str] = []
    parts: dict[str, list[np.ndarray]] = {"fill": [], "mean": [], "scale": [], "weights": []}
    categorical: list[tuple[str, Any, dict[Any, float]]] = []
    position = 0
    for name, transformer, columns in preprocess.transformers_:
        if name == "remainder":
            if transformer != "drop":
                return None
            continue
        if isinstance(transformer, str) or not len(columns):
            return None
        numeric_part = _numeric_part(transformer)
        categorical_part = _categorical_part(transformer)
        if numeric_part is not None:
            width = len(columns)
            numeric += [str(c) for c in columns]
            for key, value in zip(("fill", "mean", "scale"), numeric_part, strict=True):
                parts[key].append(value)
            parts["weights"].append(coef[position : position + width])
            position += width
        elif categorical_part is not None:
            fill_value, categories = categorical_part
            for column, values in zip(columns, categories, strict=True):
                weights = coef[position : position + len(values)]
                weight_of = dict(zip(values.tolist(), weights.tolist(), strict=True))
                categorical.append((str(column), fill_value, weight_of))
                position += len(values)
        else:
            return None
    if position != len(coef):
        return None
    joined = {key: np.concatenate(value) if value else np.zeros(0) for key, value in parts.items()}
    return LinearScorer.fitted(
        numeric,
        joined["fill"],
        joined["mean"],
        joined["scale"],
        joined["weights"],
        categorical,
        intercept,
        logistic=logistic,
    )

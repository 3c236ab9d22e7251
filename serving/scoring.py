"""Scoring rows of features with a fitted pipeline, fast where the pipeline allows it.

Training's logistic-regression pipeline (median-impute + scale numeric features, constant-impute
+ one-hot categories, logistic regression) is compiled to a few NumPy operations on the fitted
parameters: the same arithmetic, without building a DataFrame per request. Any other pipeline is
scored through `predict_proba` on a DataFrame. A unit test proves both agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

Rows = Sequence[dict[str, Any]]
Scorer = Callable[[Rows], np.ndarray]
"""Rows of features (name -> value, None where absent) -> churn probabilities."""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pipeline_scorer(pipeline: Pipeline, columns: Sequence[str]) -> Scorer:
    """Any fitted classifier pipeline, through `predict_proba` on a DataFrame."""
    names = list(columns)

    def score(rows: Rows) -> np.ndarray:
        frame = pd.DataFrame([[row.get(name) for name in names] for row in rows], columns=names)
        return np.asarray(pipeline.predict_proba(frame)[:, 1], dtype=float)

    return score


class LinearScorer:
    """Training's logistic-regression pipeline as arrays: impute, scale, one-hot, dot, sigmoid."""

    def __init__(
        self,
        numeric: list[str],
        fill: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        weights: np.ndarray,
        categorical: list[tuple[str, Any, dict[Any, float]]],
        intercept: float,
    ) -> None:
        self.numeric = numeric
        self._fill = fill
        self._mean = mean
        self._weights = weights / scale
        self._offset = intercept - float(np.dot(mean / scale, weights))
        self.categorical = categorical

    def __call__(self, rows: Rows) -> np.ndarray:
        values = np.array(
            [[np.nan if _missing(v := row.get(n)) else v for n in self.numeric] for row in rows],
            dtype=float,
        ).reshape(len(rows), len(self.numeric))
        values = np.where(np.isnan(values), self._fill, values)
        logit = values @ self._weights + self._offset
        for name, fill, weight_of in self.categorical:
            logit += np.array(
                [weight_of.get(fill if _missing(v := row.get(name)) else v, 0.0) for row in rows]
            )
        return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=float)


def _numeric_part(transformer: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
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


def compile_linear(pipeline: Pipeline) -> LinearScorer | None:
    """A `LinearScorer` equal to the pipeline, or None if its shape is not training's LR."""
    if len(pipeline.steps) != 2:
        return None
    preprocess, classifier = (step for _, step in pipeline.steps)
    if not isinstance(preprocess, ColumnTransformer) or not isinstance(
        classifier, LogisticRegression
    ):
        return None
    if classifier.coef_.shape[0] != 1 or preprocess.sparse_output_:
        return None
    coef = np.asarray(classifier.coef_[0], dtype=float)
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
                categorical.append(
                    (
                        str(column),
                        fill_value,
                        dict(zip(values.tolist(), weights.tolist(), strict=True)),
                    )
                )
                position += len(values)
        else:
            return None
    if position != len(coef):
        return None
    joined = {key: np.concatenate(value) if value else np.zeros(0) for key, value in parts.items()}
    return LinearScorer(
        numeric,
        joined["fill"],
        joined["mean"],
        joined["scale"],
        joined["weights"],
        categorical,
        float(classifier.intercept_[0]),
    )


def make_scorer(pipeline: Pipeline, columns: Sequence[str]) -> Scorer:
    """The compiled linear scorer when the pipeline allows it, else `predict_proba`."""
    return compile_linear(pipeline) or pipeline_scorer(pipeline, columns)

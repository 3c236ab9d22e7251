"""The baselines and one-rule models as arrays: a constant, or one threshold / line on a column."""

from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.pipeline import Pipeline

from serving.fast_rows import Rows, numeric_column
from training.models import OneRuleClassifier
from training.regression import OneRuleRegressor


class ConstantScorer:
    """The same score for every row (a `Dummy*` baseline)."""

    path = "numpy-constant"

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self, rows: Rows) -> np.ndarray:
        return np.full(len(rows), self.value)


class OneRuleScorer:
    """`OneRuleClassifier` (rate on each side of a threshold) or `OneRuleRegressor` (a line)."""

    path = "numpy-one-rule"

    def __init__(self, model: OneRuleClassifier | OneRuleRegressor) -> None:
        self.column = str(model.feature_)
        self.fill = float(model.fill_)
        self._model = model

    def __call__(self, rows: Rows) -> np.ndarray:
        x = numeric_column(rows, self.column)
        x = np.where(np.isnan(x), self.fill, x)
        model = self._model
        if isinstance(model, OneRuleRegressor):
            return np.asarray(model.intercept_ + model.slope_ * x, dtype=float)
        signed = model.direction_ * x
        return np.where(signed >= model.threshold_, model.rates_[1], model.rates_[0]).astype(float)


def compile_simple(pipeline: Pipeline) -> ConstantScorer | OneRuleScorer | None:
    """The scorer of a one-step baseline or one-rule pipeline, or None for any other."""
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 1:
        return None
    model = pipeline.steps[0][1]
    if isinstance(model, OneRuleClassifier | OneRuleRegressor):
        return OneRuleScorer(model)
    if isinstance(model, DummyRegressor):
        return ConstantScorer(float(np.ravel(model.constant_)[0]))
    if isinstance(model, DummyClassifier) and model.strategy in ("prior", "most_frequent"):
        if list(model.classes_) != [0, 1]:
            return None
        one_row = model.predict_proba(np.zeros((1, getattr(model, "n_features_in_", 1))))
        return ConstantScorer(float(one_row[0, 1]))
    return None

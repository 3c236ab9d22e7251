"""Regression candidates, simplest first, and their metrics.

Two baselines (the training mean and median: no model at all), one rule (a straight line on the
single best numeric feature), ridge regression and histogram gradient boosting. Every candidate is
a scikit-learn `Pipeline` with its preprocessing inside, like the binary ones in
`training.models`, and is measured with the same figures on validation and test: MAE, RMSE, R².
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from training.models import linear_preprocess, split_columns, tree_preprocess

BASELINES = ("mean_baseline", "median_baseline")


class OneRuleRegressor(RegressorMixin, BaseEstimator):
    """A least-squares line on the one numeric feature that explains the label best (highest
    training R²): the simplest model a person could write down, and a bar to clear.

    Missing values of that feature take its training median. Every input column is kept in
    `feature_names_in_` (serving reads a pipeline's input columns from there).
    """

    def __init__(self, min_rows: int = 10) -> None:
        self.min_rows = min_rows

    def fit(self, X: pd.DataFrame, y: Any) -> OneRuleRegressor:
        if not isinstance(self.min_rows, int) or self.min_rows < 2:
            raise ValueError(f"min_rows must be an int >= 2, got {self.min_rows!r}")
        target = np.asarray(y, dtype=float)
        if len(target) < self.min_rows:
            raise ValueError(f"OneRuleRegressor needs at least {self.min_rows} rows, got {len(y)}")
        numeric = X.select_dtypes(include=["number", "bool"])
        best: tuple[float, str, float, float, float] | None = None
        for column in numeric.columns:
            values = numeric[column].astype(float)
            fill = float(values.median()) if values.notna().any() else 0.0
            x = values.fillna(fill).to_numpy()
            if np.ptp(x) == 0:
                continue
            slope, intercept = np.polyfit(x, target, 1)
            residual = float(np.mean((target - (intercept + slope * x)) ** 2))
            if best is None or residual < best[0]:
                best = (residual, str(column), float(slope), float(intercept), fill)
        if best is None:
            raise ValueError("OneRuleRegressor needs a numeric feature that is not constant")
        _, self.feature_, self.slope_, self.intercept_, self.fill_ = best
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "feature_")
        x = X[self.feature_].astype(float).fillna(self.fill_).to_numpy()
        return np.asarray(self.intercept_ + self.slope_ * x, dtype=float)


def mean_baseline() -> Pipeline:
    """No model: the training mean for every row."""
    return Pipeline([("mean", DummyRegressor(strategy="mean"))])


def median_baseline() -> Pipeline:
    """No model: the training median for every row (the best constant for MAE)."""
    return Pipeline([("median", DummyRegressor(strategy="median"))])


def one_rule() -> Pipeline:
    """A straight line on the best single numeric feature."""
    return Pipeline([("rule", OneRuleRegressor())])


def ridge(features: Sequence[str], *, categorical: Sequence[str]) -> Pipeline:
    """Imputed, scaled numbers and one-hot categories into ridge regression (alpha by CV)."""
    regressor = RidgeCV(alphas=np.logspace(-3, 3, 13))
    return Pipeline(
        [("preprocess", linear_preprocess(features, categorical)), ("regressor", regressor)]
    )


def gradient_boosting(
    features: Sequence[str], *, categorical: Sequence[str], seed: int = 0
) -> Pipeline:
    """Shallow, regularised histogram boosting on squared error; NaN handled natively."""
    categories, _ = split_columns(features, categorical)
    regressor = HistGradientBoostingRegressor(
        learning_rate=0.05,
        max_iter=300,
        max_depth=3,
        min_samples_leaf=20,
        l2_regularization=1.0,
        categorical_features=list(range(len(categories))),
        random_state=seed,
    )
    return Pipeline(
        [("preprocess", tree_preprocess(features, categorical)), ("regressor", regressor)]
    )


def candidates(
    features: Sequence[str], *, categorical: Sequence[str], chosen: Sequence[str] | None = None
) -> list[tuple[str, Pipeline]]:
    """The baselines, then the `chosen` candidates (default: all), simplest first."""
    every = [
        ("mean_baseline", mean_baseline()),
        ("median_baseline", median_baseline()),
        ("one_rule", one_rule()),
        ("ridge", ridge(features, categorical=categorical)),
        ("gradient_boosting", gradient_boosting(features, categorical=categorical)),
    ]
    return [(n, p) for n, p in every if n in BASELINES or chosen is None or n in chosen]


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """MAE, RMSE and R² (R² of a constant at the mean is 0; below 0 is worse than that)."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y.shape} vs {p.shape}")
    if y.size < 2:
        raise ValueError(f"regression metrics need at least 2 rows, got {y.size}")
    return {
        "mae": float(mean_absolute_error(y, p)),
        "rmse": float(np.sqrt(mean_squared_error(y, p))),
        "r2": float(r2_score(y, p)),
        "label_mean": float(y.mean()),
    }

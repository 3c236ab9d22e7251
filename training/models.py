"""Candidate models, simplest first: no model, one rule, logistic regression, boosted trees.

Preprocessing lives inside each scikit-learn `Pipeline`, so serving applies exactly what
training fitted. Which features are categorical is the caller's to say: training reads it from
the Feast field types (`String`), see `keel.feast_plumbing.project_checks.service_schema`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

SKOPS_TRUSTED_TYPES = [
    "numpy.dtype",
    "training.models.OneRuleClassifier",
    "training.regression.OneRuleRegressor",
    "functools.partial",
    "sklearn.utils.validation.check_array",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]
"""Types beyond skops' defaults that these pipelines hold. Trusting them is sound only because
Keel loads models from its own registry, written by its own training code."""


def split_columns(
    features: Sequence[str], categorical: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(categorical, numeric) columns of `features`, in the order of `features`."""
    chosen = set(categorical)
    return [f for f in features if f in chosen], [f for f in features if f not in chosen]


class OneRuleClassifier(ClassifierMixin, BaseEstimator):
    """One threshold on the single most predictive numeric feature (by training ROC AUC).

    Scores are the training positive rates on each side of the rule: the simplest model a
    person could write down, and a bar that a real model has to clear.
    """

    def __init__(self, min_side: int = 20) -> None:
        self.min_side = min_side

    def fit(self, X: pd.DataFrame, y: Any) -> OneRuleClassifier:
        target = np.asarray(y, dtype=int)
        numeric = X.select_dtypes(include="number")
        if numeric.shape[1] == 0:
            raise ValueError("OneRuleClassifier needs at least one numeric feature")
        best: tuple[float, str, int] = (-1.0, "", 1)
        for column in numeric.columns:
            values = numeric[column].astype(float)
            values = values.fillna(values.median())
            if values.nunique() < 2:
                continue
            auc = float(roc_auc_score(target, values))
            strength = abs(auc - 0.5)
            if strength > best[0]:
                best = (strength, str(column), 1 if auc >= 0.5 else -1)
        _, self.feature_, self.direction_ = best
        values = numeric[self.feature_].astype(float)
        self.fill_ = float(values.median())
        signed = self.direction_ * values.fillna(self.fill_).to_numpy()
        self.threshold_, self.rates_ = self._best_split(signed, target)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        # Serving reads the input columns from here (through the Pipeline): keep them all.
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def _best_split(
        self, signed: np.ndarray, target: np.ndarray
    ) -> tuple[float, tuple[float, float]]:
        """Threshold on the signed feature that maximises F1 of `signed >= threshold`."""
        best_f1, best = -1.0, (float(np.median(signed)), (target.mean(), target.mean()))
        for threshold in np.unique(np.quantile(signed, np.linspace(0.5, 0.99, 50))):
            fires = signed >= threshold
            if fires.sum() < self.min_side or (~fires).sum() < self.min_side:
                continue
            tp = float(target[fires].sum())
            f1 = 2 * tp / (fires.sum() + target.sum())
            if f1 > best_f1:
                best_f1 = f1
                best = (
                    float(threshold),
                    (float(target[~fires].mean()), float(target[fires].mean())),
                )
        return best

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        signed = self.direction_ * X[self.feature_].astype(float).fillna(self.fill_).to_numpy()
        p = np.where(signed >= self.threshold_, self.rates_[1], self.rates_[0])
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def baseline() -> Pipeline:
    """No model: predicts the training prior for everyone."""
    return Pipeline([("prior", DummyClassifier(strategy="prior"))])


def one_rule() -> Pipeline:
    """One threshold on the most predictive feature."""
    return Pipeline([("rule", OneRuleClassifier())])


def logistic_regression(
    features: Sequence[str],
    *,
    categorical: Sequence[str],
    c: float = 1.0,
    class_weight: str | None = None,
) -> Pipeline:
    """Imputed, scaled numeric features and one-hot categories into a logistic regression."""
    classifier = LogisticRegression(C=c, max_iter=2000, class_weight=class_weight)
    return Pipeline(
        [("preprocess", linear_preprocess(features, categorical)), ("classifier", classifier)]
    )


def linear_preprocess(features: Sequence[str], categorical: Sequence[str]) -> ColumnTransformer:
    """Median-imputed, scaled numbers and one-hot categories (missing: `unknown`)."""
    categories, numeric = split_columns(features, categorical)
    return ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        # Missing categories arrive as None (Arrow, Feast's online store);
                        # the default missing marker (NaN) would let None pass as a category.
                        (
                            "impute",
                            SimpleImputer(
                                missing_values=None, strategy="constant", fill_value="unknown"
                            ),
                        ),
                        ("encode", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categories,
            ),
        ]
    )


def tree_preprocess(features: Sequence[str], categorical: Sequence[str]) -> ColumnTransformer:
    """Categories ordinal-encoded first (unknown and missing: -1), numbers passed through."""
    categories, numeric = split_columns(features, categorical)
    return ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
                ),
                categories,
            ),
            ("numeric", "passthrough", numeric),
        ]
    )


def gradient_boosting(
    features: Sequence[str], *, categorical: Sequence[str], seed: int = 0
) -> Pipeline:
    """Shallow, regularised histogram boosting; categories ordinal-encoded, NaN handled natively."""
    categories, _ = split_columns(features, categorical)
    preprocess = tree_preprocess(features, categorical)
    classifier = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_depth=3,
        min_samples_leaf=100,
        l2_regularization=1.0,
        categorical_features=list(range(len(categories))),
        random_state=seed,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def candidates(
    features: Sequence[str], *, categorical: Sequence[str], class_weight: str | None = None
) -> list[tuple[str, Pipeline]]:
    """Every candidate, simplest first; the baseline is always first."""
    linear = logistic_regression(features, categorical=categorical, class_weight=class_weight)
    return [
        ("baseline", baseline()),
        ("one_rule", one_rule()),
        ("logistic_regression", linear),
        ("gradient_boosting", gradient_boosting(features, categorical=categorical)),
    ]

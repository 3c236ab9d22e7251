"""Candidate models, simplest first: a no-model baseline, then logistic regression.

Preprocessing lives inside each scikit-learn `Pipeline`, so serving applies exactly what
training fitted.
"""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

CATEGORICAL = ("plan", "region")
SKOPS_TRUSTED_TYPES = ["numpy.dtype"]
"""Types beyond skops' defaults that these pipelines hold (the encoder's output dtype)."""


def baseline() -> Pipeline:
    """No model: predicts the training prior for everyone."""
    return Pipeline([("prior", DummyClassifier(strategy="prior"))])


def logistic_regression(features: Sequence[str], *, c: float = 1.0) -> Pipeline:
    """Imputed, scaled numeric features and one-hot categories into a logistic regression."""
    categorical = [f for f in features if f in CATEGORICAL]
    numeric = [f for f in features if f not in CATEGORICAL]
    preprocess = ColumnTransformer(
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
                        ("impute", SimpleImputer(strategy="constant", fill_value="unknown")),
                        ("encode", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            ),
        ]
    )
    return Pipeline(
        [("preprocess", preprocess), ("classifier", LogisticRegression(C=c, max_iter=2000))]
    )

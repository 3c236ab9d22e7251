"""Utility: does a model trained on synthetic rows do as well on real rows as one trained on real?

Train-synthetic-test-real (TSTR) against train-real-test-real (TRTR), both with Keel's own
training code (``training.models.logistic_regression``, ``training.evaluate``), scored on the
same real test rows; the headline is the ratio of their PR AUC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from keel.core.errors import InvalidInput
from synthetic.tabular import Kind, as_labels, as_numbers
from training.evaluate import classification_metrics
from training.models import logistic_regression

TEXT_CATEGORIES = ("plan", "region")
"""The churn example's categorical features (its Feast `String` fields): they stay text, one-hot
encoded inside the model; other categories become indicator columns."""


@dataclass(frozen=True)
class Utility:
    target: str
    positive: str
    """The target value counted as the positive class."""
    trtr: dict[str, float]
    tstr: dict[str, float] | None
    """None when the synthetic table holds a single class (nothing to learn from)."""
    test_rows: int

    @property
    def pr_auc_ratio(self) -> float:
        return 0.0 if self.tstr is None else self.tstr["pr_auc"] / self.trtr["pr_auc"]

    @property
    def roc_auc_ratio(self) -> float:
        return 0.0 if self.tstr is None else self.tstr["roc_auc"] / self.trtr["roc_auc"]


def binary_target(
    values: pd.Series, *, positive: str, source: str, target: str
) -> npt.NDArray[np.int64]:
    """1 where the target equals ``positive`` (compared as text), else 0."""
    if values.isna().any():
        raise InvalidInput(f"{source}: target column {target!r} has nulls")
    return np.asarray(as_labels(values) == positive, dtype=np.int64)


def positive_class(values: pd.Series, *, source: str, target: str) -> str:
    """The positive class of a two-class target: ``1``/``True`` if present, else the rarer."""
    labels = as_labels(values)
    classes = labels.value_counts()
    if len(classes) != 2:
        raise InvalidInput(
            f"{source}: target column {target!r} must have exactly two classes, "
            f"got {len(classes)} ({', '.join(map(str, classes.index[:5]))})"
        )
    for candidate in ("1", "True", "true", "yes"):
        if candidate in classes.index:
            return candidate
    return str(classes.index[-1])


def utility(
    train_real: pd.DataFrame,
    synthetic: pd.DataFrame,
    test_real: pd.DataFrame,
    *,
    target: str,
    kinds: Mapping[str, Kind],
) -> Utility:
    """TRTR and TSTR metrics of a logistic regression predicting ``target``."""
    if target not in kinds:
        raise InvalidInput(f"target column {target!r} is not in the real table")
    positive = positive_class(train_real[target], source="real table", target=target)
    features = [c for c, k in kinds.items() if k != Kind.ID and c != target]
    encode = _Encoder(train_real, features, kinds)
    y_test = binary_target(test_real[target], positive=positive, source="test rows", target=target)
    trtr = _fit_score(encode, train_real, test_real, y_test, target, positive, "real table")
    y_synthetic = binary_target(
        synthetic[target], positive=positive, source="synthetic", target=target
    )
    tstr = None
    if 0 < y_synthetic.sum() < y_synthetic.size:
        tstr = _fit_score(encode, synthetic, test_real, y_test, target, positive, "synthetic")
    return Utility(target=target, positive=positive, trtr=trtr, tstr=tstr, test_rows=len(test_real))


def _fit_score(
    encode: _Encoder,
    train: pd.DataFrame,
    test: pd.DataFrame,
    y_test: npt.NDArray[np.int64],
    target: str,
    positive: str,
    source: str,
) -> dict[str, float]:
    y = binary_target(train[target], positive=positive, source=source, target=target)
    model = logistic_regression(encode.columns, categorical=encode.text).fit(encode(train), y)
    return classification_metrics(y_test, model.predict_proba(encode(test))[:, 1])


class _Encoder:
    """Columns the way ``logistic_regression`` takes them: the categories it knows stay text,
    other categories become indicator columns of the real values, datetimes epoch seconds."""

    def __init__(self, real: pd.DataFrame, features: list[str], kinds: Mapping[str, Kind]) -> None:
        self.kinds = {f: kinds[f] for f in features}
        self.levels = {
            f: sorted(as_labels(real[f]).unique())
            for f, k in self.kinds.items()
            if k == Kind.CATEGORY and f not in TEXT_CATEGORIES
        }
        self.columns: list[str] = []
        self.text = [
            f for f, k in self.kinds.items() if k == Kind.CATEGORY and f not in self.levels
        ]
        for feature in self.kinds:
            if feature in self.levels:
                self.columns += [f"{feature}={level}" for level in self.levels[feature]]
            else:
                self.columns.append(feature)

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        out: dict[str, object] = {}
        for feature, kind in self.kinds.items():
            if feature in self.levels:
                labels = as_labels(frame[feature])
                for level in self.levels[feature]:
                    out[f"{feature}={level}"] = (labels == level).to_numpy(dtype=np.float64)
            elif kind == Kind.CATEGORY:
                out[feature] = as_labels(frame[feature]).to_numpy(dtype=object)
            else:
                out[feature] = as_numbers(frame[feature], kind)
        return pd.DataFrame(out, index=frame.index)[self.columns]

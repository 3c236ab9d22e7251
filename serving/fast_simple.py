"""The baselines and one-rule models as arrays: a constant, or one threshold / line on a column.

The scorers hold plain numbers (no scikit-learn object), so they can be saved and reloaded
without scikit-learn; `compile_simple` imports it only to read a fitted pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from serving.fast_rows import Rows, numeric_column

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


class ConstantScorer:
    """The same score for every row (a `Dummy*` baseline)."""

    path = "numpy-constant"

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self, rows: Rows) -> np.ndarray:
        return np.full(len(rows), self.value)

    def state(self) -> dict[str, Any]:
        return {"value": self.value}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ConstantScorer:
        return cls(float(state["value"]))


class OneRuleScorer:
    """`OneRuleClassifier` (rate on each side of a threshold on the signed column) or
    `OneRuleRegressor` (`intercept + slope * x`), missing values filled with `fill`."""

    path = "numpy-one-rule"

    def __init__(
        self,
        column: str,
        fill: float,
        *,
        line: tuple[float, float] | None = None,
        rule: tuple[float, float, tuple[float, float]] | None = None,
    ) -> None:
        """`line`: (intercept, slope) of a regressor; `rule`: (direction, threshold, (rate
        below, rate from the threshold on)) of a classifier."""
        if (line is None) == (rule is None):
            raise ValueError("a one-rule scorer is either a line or a rule")
        self.column = column
        self.fill = fill
        self.line = line
        self.rule = rule

    def __call__(self, rows: Rows) -> np.ndarray:
        x = numeric_column(rows, self.column)
        x = np.where(np.isnan(x), self.fill, x)
        if self.line is not None:
            intercept, slope = self.line
            return np.asarray(intercept + slope * x, dtype=float)
        assert self.rule is not None
        direction, threshold, (below, above) = self.rule
        return np.where(direction * x >= threshold, above, below).astype(float)

    def state(self) -> dict[str, Any]:
        return {"column": self.column, "fill": self.fill, "line": self.line, "rule": self.rule}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OneRuleScorer:
        line, rule = state["line"], state["rule"]
        return cls(
            state["column"],
            float(state["fill"]),
            line=None if line is None else (float(line[0]), float(line[1])),
            rule=None
            if rule is None
            else (float(rule[0]), float(rule[1]), (float(rule[2][0]), float(rule[2][1]))),
        )


def compile_simple(pipeline: Pipeline) -> ConstantScorer | OneRuleScorer | None:
    """The scorer of a one-step baseline or one-rule pipeline, or None for any other."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.pipeline import Pipeline

    from training.models import OneRuleClassifier
    from training.regression import OneRuleRegressor

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 1:
        return None
    model = pipeline.steps[0][1]
    if isinstance(model, OneRuleRegressor):
        line = (float(model.intercept_), float(model.slope_))
        return OneRuleScorer(str(model.feature_), float(model.fill_), line=line)
    if isinstance(model, OneRuleClassifier):
        rates = (float(model.rates_[0]), float(model.rates_[1]))
        rule = (float(model.direction_), float(model.threshold_), rates)
        return OneRuleScorer(str(model.feature_), float(model.fill_), rule=rule)
    if isinstance(model, DummyRegressor):
        return ConstantScorer(float(np.ravel(model.constant_)[0]))
    if isinstance(model, DummyClassifier) and model.strategy in ("prior", "most_frequent"):
        if list(model.classes_) != [0, 1]:
            return None
        one_row = model.predict_proba(np.zeros((1, getattr(model, "n_features_in_", 1))))
        return ConstantScorer(float(one_row[0, 1]))
    return None

"""Scoring rows of features with a fitted pipeline, through a compiled fast path when proven equal.

Every model kind Keel trains has a fast path that takes rows (name -> value, None where absent)
straight to NumPy, without a DataFrame, a ColumnTransformer or a thread pool per call: linear
models, baselines and one-rule models as arrays (`fast_linear`, `fast_simple`), gradient boosting
through Treelite (`fast_trees`). `choose_scorer` compiles once at load and compares the fast path
with the pipeline on probe rows; on any difference above `TOLERANCE` (or a pipeline of another
shape) the version is scored through scikit-learn, and the reason is kept for the log and
`/readyz`. Classifiers answer the probability of class 1, regressors their prediction.
A choice keeps its probe rows and the pipeline's answers on them, so the serving model cache
can save the compiled scorer and prove it again at the next load without the pipeline
(`serving.scorer_files`). scikit-learn and pandas are imported only to read or run a pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from serving.fast_linear import LinearScorer, compile_linear
from serving.fast_rows import Rows
from serving.fast_simple import compile_simple
from serving.fast_trees import compile_trees
from serving.scoring_probe import probe_rows

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from registry.models import LoadedModel

__all__ = [
    "LinearScorer",
    "Rows",
    "Scorer",
    "choose_scorer",
    "compile_linear",
    "make_scorer",
    "scorer_of",
]

logger = logging.getLogger(__name__)

Scorer = Callable[[Rows], np.ndarray]
"""Rows of features (name -> value, None where absent) -> probabilities of class 1 (or values)."""

TOLERANCE = 1e-6
"""Largest difference allowed on probe rows (relative, for predictions beyond 1 in size)."""
SKLEARN = "sklearn"


def pipeline_scorer(pipeline: Pipeline, columns: Sequence[str]) -> Scorer:
    """Any fitted pipeline, through `predict_proba` (or `predict`) on a DataFrame."""
    import pandas as pd
    from sklearn.base import is_regressor

    names = list(columns)
    regressor = is_regressor(pipeline)

    def score(rows: Rows) -> np.ndarray:
        frame = pd.DataFrame([[row.get(name) for name in names] for row in rows], columns=names)
        if regressor:
            return np.asarray(pipeline.predict(frame), dtype=float)
        return np.asarray(pipeline.predict_proba(frame)[:, 1], dtype=float)

    return score


def compile_pipeline(pipeline: Pipeline) -> Any | None:
    """The fast scorer of a pipeline of one of training's shapes, else None."""
    return compile_simple(pipeline) or compile_linear(pipeline) or compile_trees(pipeline)


@dataclass(frozen=True)
class ScorerChoice:
    scorer: Scorer
    path: str
    """`treelite`, `numpy-linear`, `numpy-constant`, `numpy-one-rule` or `sklearn`."""
    note: str = ""
    """Why the pipeline is scored through scikit-learn (empty on the fast path)."""
    probes: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """The rows the fast path was proven on (empty for scikit-learn)."""
    expected: list[float] = field(default_factory=list, repr=False)
    """The pipeline's answers on `probes`."""

    def describe(self) -> str:
        return f"{self.path} ({self.note})" if self.note else self.path


def difference(scorer: Scorer, rows: Rows, expected: Sequence[float] | np.ndarray) -> float:
    """Largest difference between `scorer` on `rows` and `expected` (relative beyond 1)."""
    wanted = np.asarray(expected, dtype=float)
    scale = np.maximum(1.0, np.abs(wanted))  # regression values: relative beyond 1
    return float(np.max(np.abs(scorer(rows) - wanted) / scale, initial=0.0))


def choose_scorer(
    pipeline: Pipeline, columns: Sequence[str], *, probes: Rows | None = None, name: str = "model"
) -> ScorerChoice:
    """The fast path when it equals the pipeline within `TOLERANCE` on `probes` (default: rows
    built from the pipeline's own fitted parameters), else scikit-learn, saying why."""
    slow = pipeline_scorer(pipeline, columns)
    try:
        fast = compile_pipeline(pipeline)
    except Exception as error:  # a compiler that cannot read the model is simply not used
        fast, note = None, f"no fast path: {type(error).__name__}: {error}"
    else:
        note = "no fast path for this pipeline"
    if fast is None:
        logger.info("%s: %s; scoring through scikit-learn", name, note)
        return ScorerChoice(slow, SKLEARN, note)
    rows = list(probes) if probes is not None else probe_rows(pipeline, columns)
    try:
        expected = slow(rows)
        gap = difference(fast, rows, expected)
    except Exception as error:
        gap, reason = float("nan"), f"{type(error).__name__}: {error}"
    else:
        reason = f"differs by {gap:.2g} on {len(rows)} probe rows"
    if not gap <= TOLERANCE:
        note = f"{fast.path} path {reason}"
        logger.warning("%s: %s; scoring through scikit-learn", name, note)
        return ScorerChoice(slow, SKLEARN, note)
    return ScorerChoice(fast, str(fast.path), probes=rows, expected=expected.tolist())


def make_scorer(pipeline: Pipeline, columns: Sequence[str]) -> Scorer:
    """The proven fast scorer when there is one, else the pipeline's own."""
    return choose_scorer(pipeline, columns).scorer


def scorer_of(model: LoadedModel, *, name: str = "model") -> ScorerChoice:
    """The scorer chosen when the version was loaded (`model.scorer`, already proven), else
    chosen now from its pipeline."""
    if isinstance(model.scorer, ScorerChoice):
        return model.scorer
    return choose_scorer(model.pipeline, model.feature_columns, name=name)

"""Learning curves: how quality grows with the number of training examples, and how many
examples a target quality would need (seed 000: know early whether 80% or 90% is reachable)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline

ModelFactory = Callable[[Sequence[str]], Pipeline]


@dataclass(frozen=True)
class PowerLaw:
    """score(n) = asymptote - scale * n ** -exponent, fitted to the mean curve."""

    asymptote: float
    scale: float
    exponent: float

    def __call__(self, n: float | np.ndarray) -> float | np.ndarray:
        return self.asymptote - self.scale * np.power(n, -self.exponent)

    def examples_for(self, target: float) -> float | None:
        """Examples needed to reach `target`; None when the fit's asymptote is below it."""
        if target >= self.asymptote or self.scale <= 0:
            return None
        return float((self.scale / (self.asymptote - target)) ** (1.0 / self.exponent))


@dataclass(frozen=True)
class LearningCurve:
    points: pd.DataFrame
    """One row per (size, repeat): pr_auc and roc_auc on the fixed test set."""
    test_rows: int
    skipped_sizes: list[int]

    def summary(self) -> pd.DataFrame:
        grouped = self.points.groupby("size")[["pr_auc", "roc_auc"]]
        out = grouped.agg(["mean", "std", "min", "max"])
        out.columns = ["_".join(map(str, pair)) for pair in out.columns.to_flat_index()]
        return out.reset_index()


def _power(n: np.ndarray, asymptote: float, scale: float, exponent: float) -> np.ndarray:
    return asymptote - scale * np.power(n, -exponent)


MIN_EXPONENT, MAX_EXPONENT = 0.1, 2.0
"""Learning-curve exponents seen in practice; a flatter fit would extrapolate noise."""


def fit_power_law(
    sizes: Sequence[int], scores: Sequence[float], spread: Sequence[float] | None = None
) -> PowerLaw:
    """Weighted least-squares fit of `score(n) = a - b n^-c` (at least three distinct sizes);
    `spread` (std across repeats) down-weights the noisy small sizes."""
    x = np.asarray(sizes, dtype=float)
    y = np.asarray(scores, dtype=float)
    distinct = np.unique(x).size
    if distinct < 3:
        raise ValueError(f"a power-law fit needs at least 3 distinct sizes, got {distinct}")
    sigma = None
    if spread is not None:
        sigma = np.maximum(np.nan_to_num(np.asarray(spread, dtype=float), nan=0.0), 0.005)
    start = (min(float(y.max()) + 0.05, 1.0), 1.0, 0.5)
    params, _ = curve_fit(
        _power,
        x,
        y,
        p0=start,
        sigma=sigma,
        bounds=([0.0, 0.0, MIN_EXPONENT], [1.0, np.inf, MAX_EXPONENT]),
        maxfev=20_000,
    )
    return PowerLaw(float(params[0]), float(params[1]), float(params[2]))


def learning_curve(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    features: Sequence[str],
    label: str,
    sizes: Sequence[int],
    repeats: int,
    model: ModelFactory,
    seed: int = 0,
    on_step: Callable[[str], None] | None = None,
) -> LearningCurve:
    """Train on `repeats` random samples of each size; score each on the same test set."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not sizes or min(sizes) < 10:
        raise ValueError(f"sizes must be >= 10 examples each, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    y_test = test[label].to_numpy()
    rows: list[dict[str, float]] = []
    usable = sorted({int(s) for s in sizes if s <= len(train)})
    skipped = sorted({int(s) for s in sizes if s > len(train)})
    fits = len(usable) * repeats
    for index, size in enumerate(usable):
        for repeat in range(repeats):
            if on_step:
                done = index * repeats + repeat + 1
                on_step(f"size {size:,}, repeat {repeat + 1} of {repeats} ({done}/{fits})")
            sample = train.iloc[rng.choice(len(train), size=size, replace=False)]
            if sample[label].nunique() < 2:
                continue
            fitted = model(list(features)).fit(sample[list(features)], sample[label])
            scores = fitted.predict_proba(test[list(features)])[:, 1]
            rows.append(
                {
                    "size": size,
                    "repeat": repeat,
                    "pr_auc": float(average_precision_score(y_test, scores)),
                    "roc_auc": float(roc_auc_score(y_test, scores)),
                }
            )
    points = pd.DataFrame(rows, columns=["size", "repeat", "pr_auc", "roc_auc"])
    return LearningCurve(points=points, test_rows=len(test), skipped_sizes=skipped)


def format_examples(n: float | None, *, largest: int | None = None) -> str:
    """The estimate in words, flagged when it extrapolates far beyond the measured sizes."""
    if n is None or not math.isfinite(n):
        return "not reachable with this model (the fitted curve levels off below it)"
    text = f"about {n:,.0f} examples"
    if largest and n > 100 * largest:
        text += f" (over 100x the largest size measured, {largest:,}: treat as 'far more data')"
    elif largest and n > largest:
        text += f" ({n / largest:.1f}x the largest size measured)"
    return text

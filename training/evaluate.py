"""Metrics that stay honest on imbalanced data (accuracy is never the headline).

Every candidate gets the same set on the same split: ranking (ROC AUC, PR AUC), decisions at the
chosen threshold (balanced accuracy, precision, recall, F1), the top decile a campaign would
target (lift, precision), and probability quality (Brier, log loss, expected calibration error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)


@dataclass(frozen=True)
class Threshold:
    """The decision threshold chosen on validation and why."""

    value: float
    rule: str


def _arrays(y_true: ArrayLike, y_score: ArrayLike) -> tuple[NDArray[np.int_], NDArray[np.float64]]:
    y = np.asarray(y_true, dtype=int)
    p = np.clip(np.asarray(y_score, dtype=float), 1e-15, 1 - 1e-15)
    if y.shape != p.shape:
        raise ValueError(f"y_true and y_score differ in length: {y.shape} vs {p.shape}")
    if y.size == 0 or y.min() == y.max():
        raise ValueError("metrics need both classes in y_true; the split holds only one")
    return y, p


def choose_threshold(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    fn_cost: float | None = None,
    fp_cost: float | None = None,
) -> Threshold:
    """Max-F1 threshold, or the one minimising `fn_cost * FN + fp_cost * FP` given costs."""
    y, p = _arrays(y_true, y_score)
    if (fn_cost is None) != (fp_cost is None):
        raise ValueError("give both fn_cost and fp_cost, or neither")
    candidates = np.unique(p)
    if fn_cost is not None and fp_cost is not None:
        if fn_cost <= 0 or fp_cost <= 0:
            raise ValueError(f"costs must be > 0, got fn_cost={fn_cost}, fp_cost={fp_cost}")
        order = np.argsort(-p, kind="stable")
        sorted_p, sorted_y = p[order], y[order]
        tp = np.cumsum(sorted_y)
        fp = np.cumsum(1 - sorted_y)
        fn = sorted_y.sum() - tp
        cost = fn_cost * fn + fp_cost * fp
        # Only positions where the next score differs are realisable thresholds.
        last_of_value = np.r_[sorted_p[1:] != sorted_p[:-1], True]
        best = int(np.argmin(np.where(last_of_value, cost, np.inf)))
        return Threshold(float(sorted_p[best]), f"min cost (fn {fn_cost:g}, fp {fp_cost:g})")
    precision, recall, thresholds = precision_recall_curve(y, p)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)[:-1]
    if thresholds.size == 0:
        return Threshold(float(candidates[0]), "max F1")
    return Threshold(float(thresholds[int(np.argmax(f1))]), "max F1")


def expected_calibration_error(y_true: ArrayLike, y_score: ArrayLike, *, bins: int = 10) -> float:
    """Weighted mean |observed rate - mean score| over equal-width score bins."""
    y, p = _arrays(y_true, y_score)
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / y.size)


def top_decile(y_true: ArrayLike, y_score: ArrayLike) -> tuple[float, float]:
    """(precision, lift) among the 10% highest scores: who a retention campaign would call.

    Scores tied at the cut-off share the remaining places pro rata, so a constant score gets
    exactly the prior (lift 1) instead of whatever order the rows happen to be in.
    """
    y, p = _arrays(y_true, y_score)
    k = max(int(np.ceil(0.1 * y.size)), 1)
    cut = np.sort(p)[::-1][k - 1]
    above, tied = p > cut, p == cut
    share = (k - above.sum()) / tied.sum()
    precision = float((y[above].sum() + share * y[tied].sum()) / k)
    return precision, precision / float(y.mean())


def classification_metrics(
    y_true: ArrayLike, y_score: ArrayLike, *, threshold: float | None = None
) -> dict[str, float]:
    """The full metric set; decision metrics only when a threshold is given.

    `majority_accuracy` is what predicting "nobody churns" scores: shown so that nobody is
    impressed by an accuracy close to it.
    """
    y, p = _arrays(y_true, y_score)
    positive_rate = float(y.mean())
    precision_top, lift_top = top_decile(y, p)
    metrics = {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "precision_top_decile": precision_top,
        "lift_top_decile": lift_top,
        "positive_rate": positive_rate,
        "majority_accuracy": max(positive_rate, 1 - positive_rate),
    }
    if threshold is not None:
        predicted = (p >= threshold).astype(int)
        metrics |= {
            "threshold": float(threshold),
            "balanced_accuracy": float(balanced_accuracy_score(y, predicted)),
            "precision": float(precision_score(y, predicted, zero_division=0)),
            "recall": float(recall_score(y, predicted, zero_division=0)),
            "f1": float(f1_score(y, predicted, zero_division=0)),
        }
    return metrics

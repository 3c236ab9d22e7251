"""Metrics that stay honest on imbalanced data (accuracy is never the headline)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def classification_metrics(y_true: ArrayLike, y_score: ArrayLike) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision), Brier score, log loss, and the positive rate.

    `majority_accuracy` is what predicting "nobody churns" scores: shown so that nobody is
    impressed by an accuracy close to it.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.clip(np.asarray(y_score, dtype=float), 1e-15, 1 - 1e-15)
    if y.size == 0 or y.min() == y.max():
        raise ValueError("metrics need both classes in y_true; the split holds only one")
    positive_rate = float(y.mean())
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "positive_rate": positive_rate,
        "majority_accuracy": max(positive_rate, 1 - positive_rate),
    }

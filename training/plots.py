"""Plots people would rather look at than tables, saved as PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve


def _save(fig: Figure, out: Path) -> Path:
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def pr_curves(y_true: ArrayLike, scores: Mapping[str, ArrayLike], out: Path, *, title: str) -> Path:
    """Precision-recall curves of several models on one set, with the prior as a line."""
    y = np.asarray(y_true, dtype=int)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(y, np.asarray(score, dtype=float))
        ax.plot(recall, precision, label=name, linewidth=1.6)
    ax.axhline(float(y.mean()), color="grey", linestyle="--", linewidth=1, label="prior rate")
    ax.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return _save(fig, out)


def roc_curves(
    y_true: ArrayLike, scores: Mapping[str, ArrayLike], out: Path, *, title: str
) -> Path:
    """ROC curves of several models on one set, with the chance diagonal."""
    y = np.asarray(y_true, dtype=int)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y, np.asarray(score, dtype=float))
        ax.plot(fpr, tpr, label=name, linewidth=1.6)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, out)


def calibration(y_true: ArrayLike, score: ArrayLike, out: Path, *, title: str) -> Path:
    """Observed positive rate against mean predicted probability, in quantile bins."""
    prob_true, prob_pred = calibration_curve(
        np.asarray(y_true, dtype=int),
        np.asarray(score, dtype=float),
        n_bins=10,
        strategy="quantile",
    )
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=110)
    ax.plot(prob_pred, prob_true, marker="o", linewidth=1.6, label="model")
    top = float(max(prob_pred.max(), prob_true.max())) * 1.05
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", title=title)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _save(fig, out)


def confusion(y_true: ArrayLike, score: ArrayLike, threshold: float, out: Path) -> Path:
    """Confusion matrix at the chosen threshold, with counts."""
    predicted = (np.asarray(score, dtype=float) >= threshold).astype(int)
    matrix = confusion_matrix(np.asarray(y_true, dtype=int), predicted, labels=[0, 1])
    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=110)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, f"{count:,}", ha="center", va="center", color="black")
    ax.set_xticks([0, 1], ["stays", "churns"])
    ax.set_yticks([0, 1], ["stays", "churns"])
    ax.set(xlabel="predicted", ylabel="actual", title=f"threshold {threshold:.3f}")
    return _save(fig, out)


def importance(names: Sequence[str], values: ArrayLike, out: Path, *, title: str) -> Path:
    """Horizontal bars, largest magnitude on top."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(np.abs(values))
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(names) + 1.4), dpi=110)
    ax.barh([names[i] for i in order], values[order], color="tab:blue")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_title(title, fontsize=10, wrap=True)
    return _save(fig, out)


def learning_curve(
    summary: pd.DataFrame, out: Path, *, title: str, fitted: Mapping[str, ArrayLike] | None = None
) -> Path:
    """PR AUC and ROC AUC against training examples (log scale), band = min..max of repeats."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    sizes = summary["size"].to_numpy(dtype=float)
    for ax, metric, label in zip(axes, ("pr_auc", "roc_auc"), ("PR AUC", "ROC AUC"), strict=True):
        ax.plot(sizes, summary[f"{metric}_mean"], marker="o", linewidth=1.6, label="mean")
        ax.fill_between(
            sizes, summary[f"{metric}_min"], summary[f"{metric}_max"], alpha=0.25, label="repeats"
        )
        if fitted and metric in fitted:
            grid = np.geomspace(sizes.min(), sizes.max() * 10, 100)
            ax.plot(
                grid, np.asarray(fitted[metric]), linestyle="--", color="grey", label="power law"
            )
        ax.set_xscale("log")
        ax.set(xlabel="training examples", ylabel=label, title=f"{title}: {label}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower right")
    return _save(fig, out)


def predicted_vs_actual(y_true: ArrayLike, predicted: ArrayLike, out: Path, *, title: str) -> Path:
    """Each row's prediction against its actual value, with the identity line."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(predicted, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=110)
    ax.scatter(y, p, s=6, alpha=0.35, color="tab:blue", linewidths=0)
    low, high = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.set(xlabel="actual", ylabel="predicted", title=title)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _save(fig, out)


def residuals(y_true: ArrayLike, predicted: ArrayLike, out: Path, *, title: str) -> Path:
    """Residuals (actual - predicted) against the prediction, and their histogram."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(predicted, dtype=float)
    error = y - p
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    left.scatter(p, error, s=6, alpha=0.35, color="tab:blue", linewidths=0)
    left.axhline(0, color="grey", linestyle="--", linewidth=1)
    left.set(xlabel="predicted", ylabel="actual - predicted", title=title)
    left.grid(alpha=0.3)
    right.hist(error, bins=40, color="tab:blue", alpha=0.8)
    right.axvline(0, color="grey", linestyle="--", linewidth=1)
    right.set(xlabel="actual - predicted", ylabel="rows", title="residuals")
    return _save(fig, out)


def error_bars(errors: Mapping[str, float], out: Path, *, title: str) -> Path:
    """One bar per candidate (an error: shorter is better), simplest first from the top."""
    names = list(errors)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(names) + 1.4), dpi=110)
    ax.barh(names, [errors[n] for n in names], color="tab:blue")
    ax.set(xlabel=title, title=f"{title} per candidate")
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, out)

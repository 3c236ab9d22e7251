"""Plots people would rather look at than tables, saved as PNG."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import precision_recall_curve


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
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out

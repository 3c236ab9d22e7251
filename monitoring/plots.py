"""The report's figures (matplotlib, Agg): reference against current, and performance by day.

Each function returns PNG bytes, so the page can inline them and MLflow can log the same files.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from monitoring.drift_stats import bin_frequencies, with_missing
from monitoring.performance import AnyPerformanceReport, PerformanceReport
from monitoring.profile import FeatureProfile

REFERENCE, CURRENT = "#4c72b0", "#dd8452"


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def binned(profile: FeatureProfile, series: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin labels, reference shares and current shares (nulls as the last bin)."""
    rows = len(series)
    null_rate = float(series.isna().mean()) if rows else 0.0
    if profile.kind == "numeric":
        edges = np.asarray(profile.bin_edges, dtype=float)
        values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=float)
        labels = [f"<{edges[0]:.3g}"] if len(edges) else ["all"]
        labels += [f"≥{e:.3g}" for e in edges]
        reference = with_missing(np.asarray(profile.bin_frequencies or [1.0]), profile.null_rate)
        current = with_missing(bin_frequencies(values, edges), null_rate)
    else:
        counts = series.dropna().astype(str).value_counts()
        labels = list(profile.categories) + sorted(set(counts.index) - set(profile.categories))
        shares = np.array([profile.categories.get(c, 0.0) for c in labels])
        reference = with_missing(
            shares / shares.sum() if shares.sum() else shares, profile.null_rate
        )
        present = np.array([counts.get(c, 0) for c in labels], dtype=float) / max(rows, 1)
        current = np.append(present, null_rate)
    return [*labels, "null"], reference, current


def _bars(
    ax: Axes, title: str, labels: list[str], reference: np.ndarray, current: np.ndarray
) -> None:
    x = np.arange(len(labels))
    ax.bar(x - 0.2, reference, 0.4, color=REFERENCE, label="reference")
    ax.bar(x + 0.2, current, 0.4, color=CURRENT, label="current")
    ax.set_xticks(x, labels, rotation=60, fontsize=6, ha="right")
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="y", labelsize=7)


def feature_histograms(
    profiles: list[FeatureProfile], current: pd.DataFrame, *, drifted: set[str]
) -> bytes:
    """Small multiples: per feature, reference and current shares over the reference bins."""
    columns = 4
    rows = max(1, math.ceil(len(profiles) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(13, 2.6 * rows), squeeze=False)
    for ax, profile in zip(axes.flat, profiles, strict=False):
        labels, reference, shares = binned(profile, current[profile.name])
        title = profile.name + ("  (drift)" if profile.name in drifted else "")
        _bars(ax, title, labels, reference, shares)
        if profile.name in drifted:
            ax.title.set_color("#cf222e")
    for ax in list(axes.flat)[len(profiles) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def score_distribution(
    profile: FeatureProfile, scores: pd.Series, *, title: str = "model score"
) -> bytes:
    """The model's scores (a probability, or a regression's predictions): training reference
    against the current window."""
    fig, ax = plt.subplots(figsize=(7, 3))
    labels, reference, current = binned(profile, scores)
    _bars(ax, title, labels, reference, current)
    ax.legend(fontsize=8)
    return _png(fig)


def _two_figures_per_day(
    rows: Sequence[Any], first: str, second: str, labels: tuple[str, str], *, top: float | None
) -> bytes | None:
    """Two of the rows' figures (attribute names) per day, a line each per version; None
    without rows. `top`: the y axis' upper limit (None: as the data needs)."""
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 3))
    for version in sorted({r.model_version for r in rows}):
        mine = [r for r in rows if r.model_version == version]
        days = [r.day for r in mine]
        ax.plot(
            days,
            [getattr(r, first) or 0.0 for r in mine],
            marker="o",
            label=f"v{version} {labels[0]}",
        )
        ax.plot(
            days,
            [getattr(r, second) or 0.0 for r in mine],
            marker="s",
            ls="--",
            label=f"v{version} {labels[1]}",
        )
    ax.set_ylim(bottom=0, top=top)
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    ax.legend(fontsize=7)
    return _png(fig)


def performance_over_time(report: PerformanceReport) -> bytes | None:
    """PR AUC and ROC AUC per day and version (days with enough labels only)."""
    rows = [r for r in report.by_day if r.pr_auc is not None]
    return _two_figures_per_day(rows, "pr_auc", "roc_auc", ("PR AUC", "ROC AUC"), top=1)


def live_performance_over_time(report: AnyPerformanceReport) -> bytes | None:
    """The task's figures per day and version: `performance_over_time` for a binary model,
    MAE and RMSE for a regression model (days with enough labels only)."""
    if isinstance(report, PerformanceReport):
        return performance_over_time(report)
    rows = [r for r in report.by_day if r.mae is not None]
    return _two_figures_per_day(rows, "mae", "rmse", ("MAE", "RMSE"), top=None)

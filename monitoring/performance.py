"""Live performance: predictions joined with their observed outcomes, per model version and day.

Input is a prediction-log export (one row per prediction, `outcome` null until feedback
arrives). For each group: PR AUC, ROC AUC, calibration (mean score against the observed rate,
and the expected calibration error over ten equal-width score bins) and the positive rates
(predicted: the served `label`; observed: `outcome`). A group with fewer than `min_labels`
outcomes, or fewer than `min_per_class` of either class, gets a note instead of numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

ALL_DAYS = "all"


@dataclass(frozen=True)
class PerformanceRow:
    """One (model version, day) group; `day` is `all` for the version's whole window."""

    model_version: str
    day: str
    predictions: int
    labelled: int
    positives: int
    predicted_positive_rate: float
    observed_rate: float | None
    mean_score: float
    pr_auc: float | None
    roc_auc: float | None
    calibration_error: float | None
    note: str | None


@dataclass(frozen=True)
class PerformanceReport:
    rows: list[PerformanceRow]
    min_labels: int
    min_per_class: int

    @property
    def by_version(self) -> list[PerformanceRow]:
        return [r for r in self.rows if r.day == ALL_DAYS]

    @property
    def by_day(self) -> list[PerformanceRow]:
        return [r for r in self.rows if r.day != ALL_DAYS]

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_labels": self.min_labels,
            "min_per_class": self.min_per_class,
            "rows": [asdict(r) for r in self.rows],
        }


def expected_calibration_error(outcomes: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Sum over equal-width score bins of (bin share) x |mean score - observed rate|."""
    index = np.minimum((scores * bins).astype(int), bins - 1)
    error = 0.0
    for b in np.unique(index):
        mask = index == b
        error += mask.mean() * abs(scores[mask].mean() - outcomes[mask].mean())
    return float(error)


def group_performance(
    group: pd.DataFrame, *, version: str, day: str, min_labels: int, min_per_class: int
) -> PerformanceRow:
    """The figures of one group of prediction-log rows."""
    scores = group["score"].to_numpy(dtype=float)
    labelled = group[group["outcome"].notna()]
    outcomes = labelled["outcome"].to_numpy(dtype=int)
    labelled_scores = labelled["score"].to_numpy(dtype=float)
    positives = int(outcomes.sum())
    negatives = len(outcomes) - positives
    note = None
    if len(outcomes) < min_labels or min(positives, negatives) < min_per_class:
        note = (
            f"too few labels: {len(outcomes)} outcome(s), {positives} positive "
            f"(need {min_labels}, and {min_per_class} of each class)"
        )
    scored = note is None
    return PerformanceRow(
        model_version=version,
        day=day,
        predictions=len(group),
        labelled=len(outcomes),
        positives=positives,
        predicted_positive_rate=float(group["label"].mean()) if len(group) else 0.0,
        observed_rate=float(outcomes.mean()) if len(outcomes) else None,
        mean_score=float(scores.mean()) if len(scores) else 0.0,
        pr_auc=float(average_precision_score(outcomes, labelled_scores)) if scored else None,
        roc_auc=float(roc_auc_score(outcomes, labelled_scores)) if scored else None,
        calibration_error=(
            expected_calibration_error(outcomes, labelled_scores) if scored else None
        ),
        note=note,
    )


def live_performance(
    predictions: pd.DataFrame, *, min_labels: int = 50, min_per_class: int = 5
) -> PerformanceReport:
    """Per model version (whole window, then each UTC day of `created_at`)."""
    if min_labels < 1 or min_per_class < 1:
        raise ValueError(
            f"min_labels and min_per_class must be >= 1, got {min_labels}, {min_per_class}"
        )
    frame = predictions.copy()
    frame["day"] = pd.to_datetime(frame["created_at"], utc=True).dt.strftime("%Y-%m-%d")
    frame["model_version"] = frame["model_version"].astype(str)
    rows: list[PerformanceRow] = []
    options = {"min_labels": min_labels, "min_per_class": min_per_class}
    for version, by_version in frame.groupby("model_version", sort=True):
        rows.append(group_performance(by_version, version=str(version), day=ALL_DAYS, **options))
        for day, by_day in by_version.groupby("day", sort=True):
            rows.append(group_performance(by_day, version=str(version), day=str(day), **options))
    return PerformanceReport(rows=rows, min_labels=min_labels, min_per_class=min_per_class)


@dataclass(frozen=True)
class RegressionPerformanceRow:
    """One (model version, day) group of a regression model; `day` is `all` for the whole
    window. `bias` is mean prediction minus mean outcome over the labelled rows."""

    model_version: str
    day: str
    predictions: int
    labelled: int
    mean_prediction: float
    mean_outcome: float | None
    mae: float | None
    rmse: float | None
    bias: float | None
    note: str | None


@dataclass(frozen=True)
class RegressionPerformanceReport:
    rows: list[RegressionPerformanceRow]
    min_labels: int

    @property
    def by_version(self) -> list[RegressionPerformanceRow]:
        return [r for r in self.rows if r.day == ALL_DAYS]

    @property
    def by_day(self) -> list[RegressionPerformanceRow]:
        return [r for r in self.rows if r.day != ALL_DAYS]

    def to_dict(self) -> dict[str, Any]:
        return {"min_labels": self.min_labels, "rows": [asdict(r) for r in self.rows]}


def regression_group_performance(
    group: pd.DataFrame, *, version: str, day: str, min_labels: int
) -> RegressionPerformanceRow:
    """MAE, RMSE and bias of one group's predictions (`score`) against their `outcome`s."""
    predictions = group["score"].to_numpy(dtype=float)
    labelled = group[group["outcome"].notna()]
    outcomes = labelled["outcome"].to_numpy(dtype=float)
    errors = labelled["score"].to_numpy(dtype=float) - outcomes
    scored = len(outcomes) >= min_labels
    note = None if scored else f"too few labels: {len(outcomes)} outcome(s) (need {min_labels})"
    return RegressionPerformanceRow(
        model_version=version,
        day=day,
        predictions=len(group),
        labelled=len(outcomes),
        mean_prediction=float(predictions.mean()) if len(predictions) else 0.0,
        mean_outcome=float(outcomes.mean()) if len(outcomes) else None,
        mae=float(np.abs(errors).mean()) if scored else None,
        rmse=float(np.sqrt(np.mean(errors**2))) if scored else None,
        bias=float(errors.mean()) if scored else None,
        note=note,
    )


def regression_live_performance(
    predictions: pd.DataFrame, *, min_labels: int = 20
) -> RegressionPerformanceReport:
    """A regression model's live error per version (whole window, then each UTC day of
    `created_at`), from a prediction-log export with `score` (the prediction), `outcome` (null
    until feedback) and `task`; rows of another task are refused rather than mixed in."""
    if min_labels < 1:
        raise ValueError(f"min_labels must be >= 1, got {min_labels}")
    needed = ("created_at", "model_version", "score", "outcome")
    missing = [c for c in needed if c not in predictions]
    if missing:
        raise ValueError(f"prediction log export lacks column(s) {', '.join(missing)}")
    if "task" in predictions:
        other = sorted(set(predictions["task"].dropna().astype(str)) - {"regression"})
        if other:
            raise ValueError(
                f"regression performance needs regression predictions; found task(s) "
                f"{', '.join(other)} (filter the export by model)"
            )
    frame = predictions.copy()
    frame["day"] = pd.to_datetime(frame["created_at"], utc=True).dt.strftime("%Y-%m-%d")
    frame["model_version"] = frame["model_version"].astype(str)
    rows: list[RegressionPerformanceRow] = []
    for version, by_version in frame.groupby("model_version", sort=True):
        rows.append(
            regression_group_performance(
                by_version, version=str(version), day=ALL_DAYS, min_labels=min_labels
            )
        )
        for day, by_day in by_version.groupby("day", sort=True):
            rows.append(
                regression_group_performance(
                    by_day, version=str(version), day=str(day), min_labels=min_labels
                )
            )
    return RegressionPerformanceReport(rows=rows, min_labels=min_labels)


AnyPerformanceReport = PerformanceReport | RegressionPerformanceReport


def task_live_performance(
    predictions: pd.DataFrame, task: str, *, min_labels: int = 50, min_per_class: int = 5
) -> AnyPerformanceReport:
    """The live figures that fit the model's `task`: PR AUC and calibration (binary), MAE and
    RMSE (regression; `min_per_class` does not apply)."""
    if task == "regression":
        return regression_live_performance(predictions, min_labels=min_labels)
    if task != "binary":
        raise ValueError(f"task must be binary or regression, got {task!r}")
    return live_performance(predictions, min_labels=min_labels, min_per_class=min_per_class)

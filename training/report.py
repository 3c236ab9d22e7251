"""The plots of a training run, logged to MLflow under `plots/`: binary (PR and ROC curves,
calibration, confusion, importance) or regression (predicted against actual, residuals, MAE per
candidate, importance)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
from sklearn.pipeline import Pipeline

from training import plots

MAX_IMPORTANCE_ROWS = 2000


def is_linear(model: Pipeline) -> bool:
    """A linear model after preprocessing: its coefficients are its importances."""
    return (
        isinstance(model.steps[-1][1], LogisticRegression | Ridge | RidgeCV)
        and len(model.steps) > 1
    )


def importances(
    model: Pipeline, frame: pd.DataFrame, y: pd.Series, *, scoring: str = "average_precision"
) -> tuple[list[str], np.ndarray]:
    """Coefficients (per scaled / one-hot column) for a linear model, otherwise permutation
    importance in `scoring` on the given set."""
    estimator = model.steps[-1][1]
    if is_linear(model):
        names = [str(n).split("__", 1)[-1] for n in model[:-1].get_feature_names_out()]
        return names, np.ravel(estimator.coef_)[: len(names)]
    # Bounded work: boosted trees predict slowly, and the ranking settles on a sample.
    result = permutation_importance(
        model,
        frame,
        y,
        scoring=scoring,
        n_repeats=2,
        max_samples=min(1.0, MAX_IMPORTANCE_ROWS / max(len(frame), 1)),
        random_state=0,
    )
    return list(frame.columns), np.asarray(result["importances_mean"])


def log_run_plots(
    y_test: pd.Series,
    test_scores: Mapping[str, np.ndarray],
    *,
    selected: str,
    threshold: float,
    model: Pipeline,
    valid: pd.DataFrame,
    y_valid: pd.Series,
) -> None:
    """Log the comparison and the selected model's diagnostic plots to the active run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        plots.pr_curves(
            y_test, test_scores, out / "pr_curve_test.png", title="Precision-recall, test"
        )
        plots.roc_curves(y_test, test_scores, out / "roc_curve_test.png", title="ROC, test")
        plots.calibration(
            y_test, test_scores[selected], out / "calibration_test.png", title=f"{selected}, test"
        )
        plots.confusion(y_test, test_scores[selected], threshold, out / "confusion_test.png")
        names, values = importances(model, valid, y_valid)
        title = (
            "coefficients" if is_linear(model) else "permutation importance (PR AUC, validation)"
        )
        plots.importance(names, values, out / "importance.png", title=f"{selected}\n{title}")
        mlflow.log_artifacts(str(out), artifact_path="plots")


def log_regression_plots(
    y_test: pd.Series,
    test_predictions: Mapping[str, np.ndarray],
    *,
    selected: str,
    model: Pipeline,
    valid: pd.DataFrame,
    y_valid: pd.Series,
) -> None:
    """Log the selected regression model's diagnostics and the candidates' test MAE."""
    chosen = test_predictions[selected]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        plots.predicted_vs_actual(
            y_test, chosen, out / "predicted_vs_actual_test.png", title=f"{selected}, test"
        )
        plots.residuals(y_test, chosen, out / "residuals_test.png", title=f"{selected}, test")
        y = np.asarray(y_test, dtype=float)
        plots.error_bars(
            {n: float(np.mean(np.abs(y - np.asarray(p)))) for n, p in test_predictions.items()},
            out / "mae_test.png",
            title="test MAE",
        )
        names, values = importances(model, valid, y_valid, scoring="neg_mean_absolute_error")
        title = "coefficients" if is_linear(model) else "permutation importance (MAE, validation)"
        plots.importance(names, values, out / "importance.png", title=f"{selected}\n{title}")
        mlflow.log_artifacts(str(out), artifact_path="plots")

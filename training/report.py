"""The plots of a training run, logged to MLflow: curves, calibration, confusion, importance."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from training import plots

MAX_IMPORTANCE_ROWS = 2000


def importances(model: Pipeline, frame: pd.DataFrame, y: pd.Series) -> tuple[list[str], np.ndarray]:
    """Coefficients (per scaled / one-hot column) for a logistic regression, otherwise
    permutation importance in PR AUC on the given set."""
    classifier = model.steps[-1][1]
    if isinstance(classifier, LogisticRegression) and len(model.steps) > 1:
        names = [str(n).split("__", 1)[-1] for n in model[:-1].get_feature_names_out()]
        return names, classifier.coef_[0]
    # Bounded work: boosted trees predict slowly, and the ranking settles on a sample.
    result = permutation_importance(
        model,
        frame,
        y,
        scoring="average_precision",
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
            "coefficients"
            if isinstance(model.steps[-1][1], LogisticRegression)
            else ("permutation importance (PR AUC, validation)")
        )
        plots.importance(names, values, out / "importance.png", title=f"{selected}\n{title}")
        mlflow.log_artifacts(str(out), artifact_path="plots")

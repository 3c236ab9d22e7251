"""One candidate fitted and measured in its own nested MLflow run: on the training rows, with the
same metrics on validation and test for every candidate of a task.

Binary: the threshold is chosen on validation (max F1, or min cost with `fn_cost`/`fp_cost`).
Regression: MAE, RMSE and R² (`training.regression`).
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from training import regression
from training.evaluate import Threshold, choose_threshold, classification_metrics
from training.split import TimeSplit


@dataclass(frozen=True)
class BinaryCandidate:
    name: str
    run_id: str
    threshold: Threshold
    valid: dict[str, float]
    test: dict[str, float]


@dataclass(frozen=True)
class RegressionCandidate:
    name: str
    run_id: str
    valid: dict[str, float]
    test: dict[str, float]


Candidate = BinaryCandidate | RegressionCandidate


def _log_estimator(estimator: Pipeline, **extra: str) -> None:
    last = estimator.steps[-1][1]
    mlflow.log_params(
        {"estimator": type(last).__name__, **extra}
        | {f"{type(last).__name__}.{k}": str(v) for k, v in last.get_params().items()}
    )


def fit_binary_candidate(
    name: str,
    estimator: Pipeline,
    split: TimeSplit,
    features: list[str],
    lineage: dict[str, str],
    *,
    label: str,
    fn_cost: float | None = None,
    fp_cost: float | None = None,
) -> tuple[BinaryCandidate, np.ndarray]:
    """Fit on train, choose the threshold on validation, measure valid and test in a nested run;
    the candidate and its test-set probabilities of class 1.

    `lineage` (Feast's and Keel's tags of the parent run) is copied onto the candidate's run:
    Feast's `log_model` and `register_model` read them from the run that holds the model.
    """
    with mlflow.start_run(
        run_name=name, nested=True, tags={**lineage, "keel.candidate": name}
    ) as run:
        estimator.fit(split.train[features], split.train[label])
        valid_scores = estimator.predict_proba(split.valid[features])[:, 1]
        threshold = choose_threshold(
            split.valid[label], valid_scores, fn_cost=fn_cost, fp_cost=fp_cost
        )
        test_scores = pd.Series(estimator.predict_proba(split.test[features])[:, 1])
        valid = classification_metrics(split.valid[label], valid_scores, threshold=threshold.value)
        test = classification_metrics(split.test[label], test_scores, threshold=threshold.value)
        mlflow.log_metrics({f"valid_{k}": v for k, v in valid.items()})
        mlflow.log_metrics({f"test_{k}": v for k, v in test.items()})
        _log_estimator(estimator, threshold_rule=threshold.rule)
    result = BinaryCandidate(name, run.info.run_id, threshold, valid, test)
    return result, test_scores.to_numpy()


def fit_regression_candidate(
    name: str,
    estimator: Pipeline,
    split: TimeSplit,
    features: list[str],
    lineage: dict[str, str],
    *,
    label: str,
) -> tuple[RegressionCandidate, np.ndarray]:
    """Fit on train, measure valid and test in a nested run; the candidate and its test-set
    predictions."""
    with mlflow.start_run(
        run_name=name, nested=True, tags={**lineage, "keel.candidate": name}
    ) as run:
        estimator.fit(split.train[features], split.train[label])
        valid = regression.regression_metrics(
            split.valid[label], estimator.predict(split.valid[features])
        )
        predicted = np.asarray(estimator.predict(split.test[features]), dtype=float)
        test = regression.regression_metrics(split.test[label], predicted)
        mlflow.log_metrics({f"valid_{k}": v for k, v in valid.items()})
        mlflow.log_metrics({f"test_{k}": v for k, v in test.items()})
        _log_estimator(estimator)
    return RegressionCandidate(name, run.info.run_id, valid, test), predicted

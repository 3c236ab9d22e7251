"""Properties of the evaluation metrics (training/evaluate.py) on random labels and scores."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from training.evaluate import classification_metrics, expected_calibration_error, top_decile

FAST = settings(max_examples=40, deadline=None)


@st.composite
def labels_and_scores(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Both classes present; scores on a 1/1000 grid in [0.01, 0.99] (so monotone transforms
    below keep them distinct and away from the metrics' clipping at 1e-15)."""
    n = draw(st.integers(min_value=4, max_value=200))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    y[0], y[1] = 0, 1
    grid = draw(st.lists(st.integers(10, 990), min_size=n, max_size=n))
    return y, np.array(grid) / 1000.0


@FAST
@given(labels_and_scores())
def test_every_metric_of_a_probability_lies_in_its_range(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    y, p = data
    metrics = classification_metrics(y, p, threshold=0.5)
    for name in (
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "precision_top_decile",
        "positive_rate",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
    ):
        assert 0.0 <= metrics[name] <= 1.0, (name, metrics[name])
    assert metrics["log_loss"] >= 0.0
    assert 0.0 <= metrics["lift_top_decile"] <= 1.0 / metrics["positive_rate"] + 1e-12
    assert 0.5 <= metrics["majority_accuracy"] <= 1.0


@FAST
@given(labels_and_scores())
def test_ranking_metrics_ignore_monotone_transforms_of_the_score(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    y, p = data
    base = classification_metrics(y, p)
    for transformed in (p**2, np.sqrt(p), 1 / (1 + np.exp(-8 * (p - 0.3)))):
        other = classification_metrics(y, transformed)
        for name in ("roc_auc", "pr_auc", "precision_top_decile", "lift_top_decile"):
            assert abs(other[name] - base[name]) < 1e-12, name
    reversed_ = classification_metrics(y, 1 - p)
    assert abs(reversed_["roc_auc"] - (1 - base["roc_auc"])) < 1e-12


@FAST
@given(labels_and_scores())
def test_a_perfect_ranking_scores_one_and_lifts_to_the_inverse_prior(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    y, _ = data
    p = np.where(y == 1, 0.9, 0.1)
    metrics = classification_metrics(y, p)
    assert metrics["roc_auc"] == 1.0 and metrics["pr_auc"] == 1.0
    k = int(np.ceil(0.1 * y.size))
    expected_precision = min(y.sum(), k) / k
    assert abs(metrics["precision_top_decile"] - expected_precision) < 1e-12
    assert abs(metrics["lift_top_decile"] - expected_precision / y.mean()) < 1e-12


@FAST
@given(labels_and_scores(), st.floats(0.01, 0.99))
def test_a_constant_score_has_lift_one_and_auc_one_half(
    data: tuple[np.ndarray, np.ndarray], constant: float
) -> None:
    y, _ = data
    p = np.full(y.size, constant)
    precision, lift = top_decile(y, p)
    assert abs(lift - 1.0) < 1e-9 and abs(precision - y.mean()) < 1e-9
    assert classification_metrics(y, p)["roc_auc"] == 0.5


@FAST
@given(labels_and_scores())
def test_brier_and_calibration_error_are_bounded_by_their_definitions(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    y, p = data
    metrics = classification_metrics(y, p)
    assert abs(metrics["brier"] - np.mean((p - y) ** 2)) < 1e-12
    # ECE averages |rate - score| per bin: never below the gap of the overall means
    assert metrics["ece"] >= abs(y.mean() - p.mean()) - 1e-12
    assert metrics["ece"] <= np.mean(np.abs(y - p)) + 1e-12
    # perfectly calibrated scores (each bin's score is its observed rate) have no error
    calibrated = np.full(y.size, y.mean())
    assert expected_calibration_error(y, calibrated, bins=1) < 1e-12

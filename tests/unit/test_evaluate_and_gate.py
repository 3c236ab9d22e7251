from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from training.evaluate import (
    choose_threshold,
    classification_metrics,
    expected_calibration_error,
    top_decile,
)
from training.gate import baseline_gate, promotion_gate


def test_metrics_match_sklearn_and_expose_the_accuracy_trap() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.05).astype(int)
    score = np.clip(0.05 + 0.3 * y + rng.normal(0, 0.1, 2000), 0, 1)
    metrics = classification_metrics(y, score)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, score))
    assert metrics["majority_accuracy"] == pytest.approx(1 - y.mean())
    assert metrics["majority_accuracy"] > 0.9


def test_a_constant_score_has_pr_auc_equal_to_the_prior() -> None:
    y = np.array([0] * 95 + [1] * 5)
    metrics = classification_metrics(y, np.full(100, 0.05))
    assert metrics["pr_auc"] == pytest.approx(0.05)
    assert metrics["roc_auc"] == pytest.approx(0.5)


def test_metrics_refuse_a_single_class() -> None:
    with pytest.raises(ValueError, match="both classes"):
        classification_metrics([0, 0, 0], [0.1, 0.2, 0.3])


def test_gate_refuses_a_model_that_does_not_beat_the_baseline() -> None:
    assert not baseline_gate(0.05, 0.05).passed
    assert not baseline_gate(0.07, 0.05, margin=0.05).passed
    decision = baseline_gate(0.2, 0.05, margin=0.05)
    assert decision.passed
    assert decision.as_tags()["keel.gate"] == "passed"


def test_gate_rejects_a_negative_margin() -> None:
    with pytest.raises(ValueError, match="margin must be >= 0"):
        baseline_gate(0.2, 0.1, margin=-0.1)


def _noisy_scores(n: int = 3000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.06).astype(int)
    score = np.clip(0.05 + 0.25 * y + rng.normal(0, 0.12, n), 0.001, 0.999).round(3)
    return y, score


def test_max_f1_threshold_matches_a_brute_force_search() -> None:
    y, score = _noisy_scores()
    chosen = choose_threshold(y, score)
    best = max(np.unique(score), key=lambda t: f1_score(y, score >= t))
    assert f1_score(y, score >= chosen.value) == pytest.approx(f1_score(y, score >= best))
    assert chosen.rule == "max F1"


def test_cost_threshold_minimises_the_stated_cost() -> None:
    y, score = _noisy_scores()

    def cost(t: float) -> float:
        predicted = score >= t
        return 10 * float(((~predicted) & (y == 1)).sum()) + float((predicted & (y == 0)).sum())

    chosen = choose_threshold(y, score, fn_cost=10, fp_cost=1)
    assert cost(chosen.value) == min(cost(t) for t in np.unique(score))
    # Missing a churner costs more than a false alarm: the threshold drops below max-F1's.
    assert chosen.value <= choose_threshold(y, score).value


def test_costs_come_in_pairs() -> None:
    with pytest.raises(ValueError, match="both fn_cost and fp_cost"):
        choose_threshold([0, 1], [0.2, 0.8], fn_cost=5)


def test_decision_metrics_match_sklearn_at_the_threshold() -> None:
    y, score = _noisy_scores()
    metrics = classification_metrics(y, score, threshold=0.2)
    predicted = (score >= 0.2).astype(int)
    assert metrics["f1"] == pytest.approx(f1_score(y, predicted))
    assert metrics["recall"] == pytest.approx(recall_score(y, predicted))
    assert metrics["precision"] == pytest.approx(precision_score(y, predicted))
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, predicted))
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, score))
    assert metrics["log_loss"] == pytest.approx(log_loss(y, score))


def test_top_decile_lift_is_precision_over_the_prior() -> None:
    y = np.array([1] * 10 + [0] * 90)
    score = np.r_[np.linspace(0.9, 0.8, 10), np.linspace(0.5, 0.0, 90)]
    precision, lift = top_decile(y, score)
    assert precision == 1.0
    assert lift == pytest.approx(10.0)


def test_calibration_error_is_zero_when_rates_match_scores() -> None:
    y = np.array([1] * 20 + [0] * 80 + [1] * 50 + [0] * 50)
    score = np.array([0.2] * 100 + [0.5] * 100)
    assert expected_calibration_error(y, score) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(200, 0.9)) == pytest.approx(0.9 - 0.35)


def test_gate_keeps_a_champion_that_does_better_on_the_same_test_set() -> None:
    decision = promotion_gate(0.30, 0.05, champion_pr_auc=0.32, margin=0.01)
    assert not decision.passed
    assert "champion" in decision.reason
    assert promotion_gate(0.32, 0.05, champion_pr_auc=0.32).passed


def test_gate_tells_losing_to_the_baseline_from_losing_to_the_champion() -> None:
    """Only the first keeps a version from every serving alias (challenger included)."""
    lost = promotion_gate(0.06, 0.05, champion_pr_auc=0.30, margin=0.01)
    behind = promotion_gate(0.20, 0.05, champion_pr_auc=0.30, margin=0.01)
    won = promotion_gate(0.40, 0.05, champion_pr_auc=0.30, margin=0.01)
    assert [(d.passed, d.beats_baseline) for d in (lost, behind, won)] == [
        (False, False),
        (False, True),
        (True, True),
    ]
    assert lost.as_tags() == {
        "keel.gate": "failed",
        "keel.gate_reason": "test PR AUC 0.0600 does not beat baseline 0.0500 + margin 0.01",
        "keel.gate_baseline": "failed",
    }
    assert behind.as_tags()["keel.gate_baseline"] == "passed"
    assert won.as_tags()["keel.gate_baseline"] == "passed"


def test_top_decile_of_a_constant_score_is_the_prior() -> None:
    y = np.array([1] * 10 + [0] * 190)  # positives first: row order must not matter
    precision, lift = top_decile(y, np.full(200, 0.05))
    assert precision == pytest.approx(0.05)
    assert lift == pytest.approx(1.0)

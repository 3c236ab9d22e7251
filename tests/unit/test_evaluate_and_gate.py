from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from training.evaluate import classification_metrics
from training.gate import baseline_gate


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

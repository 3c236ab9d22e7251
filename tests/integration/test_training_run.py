"""`keel train` end to end on a small workspace: candidates, registration, gate, lineage."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from keel.data import generate_dataset
from keel.features import apply_definitions
from keel.settings import Settings
from registry.client import mlflow_client
from training.labels import LABEL
from training.train import TrainOptions, TrainResult, train

pytestmark = pytest.mark.integration

CANDIDATES = ["baseline", "one_rule", "logistic_regression", "gradient_boosting"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, TrainResult, TrainResult]:
    settings = Settings(home=tmp_path_factory.mktemp("training") / "ws")
    generate_dataset(settings, customers=2000, days=150, seed=11, end=date(2026, 1, 1))
    apply_definitions(settings)
    first = train(settings)
    shuffled = train(settings, options=TrainOptions(shuffle_labels_seed=1))
    return settings, first, shuffled


def test_every_candidate_gets_the_same_metrics_on_the_same_split(runs) -> None:
    settings, first, _ = runs
    assert [c.name for c in first.candidates] == CANDIDATES
    client = mlflow_client(settings)
    keys = None
    for candidate in first.candidates:
        metrics = client.get_run(candidate.run_id).data.metrics
        assert {
            "valid_pr_auc",
            "test_pr_auc",
            "test_ece",
            "test_lift_top_decile",
            "test_f1",
        } <= set(metrics)
        keys = keys or set(metrics)
        assert set(metrics) == keys
    baseline = first.candidates[0]
    assert baseline.test["roc_auc"] == pytest.approx(0.5)
    assert baseline.test["majority_accuracy"] > 0.9  # the trap accuracy would fall into


def test_the_best_candidate_is_registered_gated_and_promoted(runs) -> None:
    settings, first, _ = runs
    assert first.selected != "baseline"
    assert first.gate.passed
    assert first.aliases == ["challenger", "champion"]
    client = mlflow_client(settings)
    version = client.get_model_version(settings.model_name, first.model_version)
    tags = version.tags
    assert tags["keel.gate"] == "passed"
    assert tags["keel.candidate"] == first.selected
    assert 0 < float(tags["keel.threshold"]) < 1
    assert tags["keel.feature_definitions_hash"].startswith("sha256:")
    assert tags["feast.feature_service"] == settings.feature_service
    assert float(tags["keel.baseline_test_pr_auc"]) < float(tags["keel.test_pr_auc"])
    assert "champion" in version.aliases  # challenger has moved on to the shuffled run's version
    location = client.get_model_version_download_uri(settings.model_name, first.model_version)
    assert str(settings.home) in location, f"model artifacts outside the workspace: {location}"
    monitoring = {a.path for a in client.list_artifacts(version.run_id, "monitoring")}
    assert "monitoring/reference_profile.json" in monitoring


def test_a_version_leads_back_to_its_exact_training_frame_and_plots(runs) -> None:
    settings, first, _ = runs
    client = mlflow_client(settings)
    parent = client.get_run(first.parent_run_id)
    assert parent.inputs.dataset_inputs
    plots = {a.path for a in client.list_artifacts(first.parent_run_id, "plots")}
    for name in (
        "pr_curve_test",
        "roc_curve_test",
        "calibration_test",
        "confusion_test",
        "importance",
    ):
        assert f"plots/{name}.png" in plots
    local = client.download_artifacts(first.parent_run_id, "datasets/training_frame.parquet")
    frame = pd.read_parquet(local)
    assert len(frame) == sum(first.rows.values())
    assert frame[LABEL].mean() == pytest.approx(first.label_rate)
    assert parent.data.tags["keel.generator_seed"] == "11"
    assert parent.data.tags["keel.code_commit"]


def test_gate_refuses_a_model_trained_on_shuffled_labels(runs) -> None:
    settings, first, shuffled = runs
    assert not shuffled.gate.passed
    assert shuffled.aliases == ["challenger"]
    client = mlflow_client(settings)
    champion = client.get_model_version_by_alias(settings.model_name, "champion")
    challenger = client.get_model_version_by_alias(settings.model_name, "challenger")
    assert str(champion.version) == first.model_version
    assert str(challenger.version) == shuffled.model_version
    assert challenger.tags["keel.gate"] == "failed"

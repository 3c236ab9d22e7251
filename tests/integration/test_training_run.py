"""`keel train` of the churn example end to end on a small workspace: candidates, registration,
gate, lineage. The example is a model spec trained by keel.yaml's path (`training.model_train`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import mlflow
import mlflow.artifacts
import pandas as pd
import pytest
from mlflow.tracking import _tracking_service

from keel.core.errors import InvalidInput
from keel.core.project import ModelSpec
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.feast_plumbing.feature_store import open_store
from keel.feast_plumbing.features import apply_definitions
from keel.feast_plumbing.project_checks import service_schema
from registry.aliases import alias_history
from registry.client import mlflow_client
from registry.model_spec import load_model_spec
from serving import scorer_files
from serving.scorer_files import ARTIFACT_DIR
from synthetic.churn_dataset import generate_dataset
from synthetic.churn_labels import LABEL, churn_model, write_churn_labels
from training.labels import TIMESTAMP, LabelTable
from training.model_train import ModelTrainResult, train_workspace_model
from training.train_options import ModelTrainOptions

pytestmark = pytest.mark.integration

CANDIDATES = ["baseline", "one_rule", "logistic_regression", "gradient_boosting"]
FAST_PATH = {
    "one_rule": "numpy-one-rule",
    "logistic_regression": "numpy-linear",
    "gradient_boosting": "treelite",
}
SHUFFLED = ModelTrainOptions(shuffle_labels_seed=1, gate_margin=0.05)
"""Trained on permuted labels, yet picked on real validation labels: on this small data the
pick clears the baseline by 0.015 PR AUC (0.058 vs 0.043), so a higher margin makes it lose."""


ELSEWHERE = "sqlite:///elsewhere-set-by-the-caller.db"
TRACKING_URI_AFTER: list[str] = []
LABELS: list[LabelTable] = []


def train(
    settings: Settings, labels: LabelTable, *, options: ModelTrainOptions | None = None
) -> ModelTrainResult:
    """`keel train` without keel.yaml: the churn example's spec, trained as any model."""
    spec = churn_model(settings, labels)
    return train_workspace_model(settings, spec, made=labels, options=options)


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Settings, ModelTrainResult, ModelTrainResult]:
    settings = Settings(home=tmp_path_factory.mktemp("training") / "ws", actor="trainer")
    generate_dataset(settings, customers=2000, days=150, seed=11, end=date(2026, 1, 1))
    apply_definitions(settings)
    LABELS.append(write_churn_labels(Workspace.from_settings(settings).raw_dir))
    previous = _tracking_service.utils._tracking_uri
    mlflow.set_tracking_uri(ELSEWHERE)
    try:
        first = train(settings, LABELS[0])
        TRACKING_URI_AFTER.append(mlflow.get_tracking_uri())
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]
    shuffled = train(settings, LABELS[0], options=SHUFFLED)
    return settings, first, shuffled


def test_training_gives_mlflows_process_wide_tracking_uri_back(runs) -> None:
    """Feast's `store.mlflow.start_run` points it at the workspace; a notebook or server that
    trains would otherwise keep writing there."""
    assert TRACKING_URI_AFTER == [ELSEWHERE]


def test_the_churn_models_categories_are_its_feast_string_fields(runs) -> None:
    settings, first, _ = runs
    store = open_store(settings)
    service = service_schema(store, store.get_feature_service(settings.feature_service))
    categorical = [f.name for f in service.usable if f.kind == "categorical"]
    assert categorical == ["plan", "region"]
    assert set(categorical) <= set(first.feature_columns)


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
    assert sorted(version.aliases) == ["challenger", "champion"]  # the shuffled run took neither
    location = client.get_model_version_download_uri(settings.model_name, first.model_version)
    assert str(settings.home) in location, f"model artifacts outside the workspace: {location}"
    monitoring = {a.path for a in client.list_artifacts(version.run_id, "monitoring")}
    assert "monitoring/reference_profile.json" in monitoring


def test_the_registered_version_carries_its_compiled_scorer(runs, tmp_path: Path) -> None:
    """Compiled at registration, in the files serving downloads, proven on its probe rows."""
    settings, first, _ = runs
    client = mlflow_client(settings)
    location = client.get_model_version_download_uri(settings.model_name, first.model_version)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{location}/{ARTIFACT_DIR}", dst_path=str(tmp_path)
    )
    saved = scorer_files.load(Path(local))
    assert saved is not None and saved.feature_columns == first.feature_columns
    assert saved.choice.path == FAST_PATH[first.selected]


def test_a_churn_version_carries_its_model_spec_as_a_keel_yaml_version_does(runs) -> None:
    settings, first, _ = runs
    client = mlflow_client(settings)
    version = client.get_model_version(settings.model_name, first.model_version)
    assert version.tags["keel.task"] == "binary"
    spec = load_model_spec(client, settings.model_name, first.model_version)
    assert spec["name"] == settings.model_name and spec["task"] == "binary"
    assert spec["feature_service"] == settings.feature_service
    assert spec["join_keys"] == [{"name": "customer_id", "dtype": "Int64"}]
    assert [f["name"] for f in spec["request_fields"]] == ["as_of_unix"]
    assert [f["name"] for f in spec["features"]] == first.feature_columns
    kinds = {f["name"]: f["kind"] for f in spec["features"]}
    assert kinds["plan"] == kinds["region"] == "categorical"
    assert spec["label"] == LABEL and spec["output"] == ["probability", "label"]


def test_the_label_tables_making_is_logged_with_the_run(runs) -> None:
    settings, first, _ = runs
    params = mlflow_client(settings).get_run(first.parent_run_id).data.params
    assert params["horizon_days"] == "30" and params["step_days"] == "30"


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
    assert frame[LABEL].mean() == pytest.approx(first.label_figure)
    # Exactly the declared features beside the keys, the time and the label (no request field).
    assert list(frame.columns) == ["customer_id", TIMESTAMP, *first.feature_columns, LABEL]
    assert parent.data.tags["keel.generator_seed"] == "11"
    assert parent.data.tags["keel.code_commit"]


def test_a_version_that_loses_to_the_baseline_gets_no_serving_alias(runs) -> None:
    """`--shuffle-labels`: worse than no model, so not even `challenger` (an A/B share or the
    shadow would serve it)."""
    settings, first, shuffled = runs
    assert not shuffled.gate.passed and not shuffled.gate.beats_baseline
    assert shuffled.aliases == []
    client = mlflow_client(settings)
    for alias in ("champion", "challenger"):
        held = client.get_model_version_by_alias(settings.model_name, alias)
        assert str(held.version) == first.model_version, alias
    version = client.get_model_version(settings.model_name, shuffled.model_version)
    assert version.aliases == []
    assert version.tags["keel.gate"] == "failed"
    assert version.tags["keel.gate_baseline"] == "failed"
    assert "does not beat baseline" in version.tags["keel.gate_reason"]
    moved_to = {m.to_version for m in alias_history(settings, name=settings.model_name)}
    assert moved_to == {int(first.model_version)}


def test_force_makes_a_losing_version_challenger_and_records_who_and_why(runs) -> None:
    settings, first, _ = runs
    forced = train(settings, LABELS[0], options=replace(SHUFFLED, force=True))
    assert not forced.gate.beats_baseline
    assert forced.aliases == ["challenger"]
    client = mlflow_client(settings)
    name = settings.model_name
    assert str(client.get_model_version_by_alias(name, "challenger").version) == (
        forced.model_version
    )
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.model_version
    tags = client.get_model_version(name, forced.model_version).tags
    assert (tags["keel.forced_alias"], tags["keel.forced_by"]) == ("challenger", "trainer")
    move = alias_history(settings, name=name, alias="challenger")[-1]
    assert (move.to_version, move.forced) == (int(forced.model_version), True)
    assert move.actor == "trainer"
    assert "forced (--force) although it loses to the baseline" in move.reason
    assert forced.gate.reason in move.reason


def test_a_version_behind_the_champion_but_ahead_of_the_baseline_waits_as_challenger(
    runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The champion is made unbeatable on the test set; the new version still beats the
    baseline, so it becomes `challenger` (not champion), unforced."""
    settings, first, _ = runs
    monkeypatch.setattr(
        "training.promotion.champion_pr_auc",
        lambda *_, **__: (first.model_version, 0.99),
    )
    behind = train(settings, LABELS[0])
    assert behind.gate.beats_baseline and not behind.gate.passed
    assert "below the champion's 0.9900" in behind.gate.reason
    assert behind.aliases == ["challenger"]
    client = mlflow_client(settings)
    name = settings.model_name
    assert str(client.get_model_version_by_alias(name, "challenger").version) == (
        behind.model_version
    )
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.model_version
    tags = client.get_model_version(name, behind.model_version).tags
    assert (tags["keel.gate"], tags["keel.gate_baseline"]) == ("failed", "passed")
    assert "keel.forced_alias" not in tags
    assert not alias_history(settings, name=name, alias="challenger")[-1].forced


def test_candidates_narrows_training_to_the_baseline_and_the_named_ones(runs) -> None:
    """`keel train --candidates logistic_regression`: the baseline still sets the bar; the
    registered version is the logistic regression, which export-sql can turn into SQL."""
    from registry.models import load_version
    from training.export_sql import probability_sql

    settings, _, _ = runs
    options = ModelTrainOptions(candidates=("logistic_regression",))
    linear = train(settings, LABELS[0], options=options)
    assert [c.name for c in linear.candidates] == ["baseline", "logistic_regression"]
    assert linear.selected == "logistic_regression"
    client = mlflow_client(settings)
    version = client.get_model_version(settings.model_name, linear.model_version)
    assert version.tags["keel.candidate"] == "logistic_regression"
    pipeline = load_version(client, version, alias=None).pipeline
    assert probability_sql(pipeline).startswith("1.0 / (1.0 + exp(-(")


def test_the_split_is_by_snapshot_the_last_tests_the_one_before_validates(runs) -> None:
    settings, first, _ = runs
    client = mlflow_client(settings)
    local = client.download_artifacts(first.parent_run_id, "datasets/training_frame.parquet")
    times = sorted(pd.read_parquet(local)[TIMESTAMP].unique())
    frame = pd.read_parquet(local)
    assert first.rows["test"] == int((frame[TIMESTAMP] == times[-1]).sum())
    assert first.rows["valid"] == int((frame[TIMESTAMP] == times[-2]).sum())
    assert first.rows["train"] == int((frame[TIMESTAMP] < times[-2]).sum())
    params = client.get_run(first.parent_run_id).data.params
    assert params["class_weight"] == "None" and params["task"] == "binary"
    dataset = client.get_run(first.parent_run_id).inputs.dataset_inputs[0].dataset
    assert dataset.name == f"{settings.feature_service}-snapshots"


BINARY = ModelSpec(
    name="m", feature_service="s", labels=Path("labels.parquet"), label="y", task="binary"
)


@pytest.mark.parametrize("names", [(), ("nope",), ("logistic_regression", "xgboost"), ("ridge",)])
def test_candidates_must_name_known_ones(names: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput, match="--candidates: expected one or more of one_rule"):
        ModelTrainOptions(candidates=names).applied_to(BINARY)


def test_binary_options_are_refused_for_a_regression_model() -> None:
    regression = BINARY.model_copy(update={"task": "regression"})
    with pytest.raises(InvalidInput, match="--class-weight: m is a regression model"):
        ModelTrainOptions(class_weight="balanced").applied_to(regression)
    with pytest.raises(InvalidInput, match="--fn-cost/--fp-cost: m is a regression model"):
        ModelTrainOptions(fn_cost=5, fp_cost=1).applied_to(regression)


def test_the_learning_curve_reads_the_frame_and_split_training_reads(runs) -> None:
    """`keel learning-curve` without --data: the churn spec's frame, built and split as training
    builds and splits it (its training and validation rows train, its test rows test)."""
    from training.learning_curve_job import model_data, run_learning_curve

    settings, first, _ = runs
    spec = churn_model(settings, LABELS[0])
    data = model_data(settings, spec)
    assert (len(data.train), len(data.test)) == (
        first.rows["train"] + first.rows["valid"],
        first.rows["test"],
    )
    assert data.features == first.feature_columns and data.categorical == ["plan", "region"]
    result = run_learning_curve(settings, sizes=[500, 1000], repeats=1, spec=spec)
    assert result.source == f"feast:{settings.feature_service}"
    assert list(result.curve.summary()["size"]) == [500, 1000]

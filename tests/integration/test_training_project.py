"""`keel train NAME` on the delivery example: copied to a temporary directory, generated small,
applied with Feast's own CLI, trained with real MLflow on SQLite in a temporary workspace."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.artifacts
import pandas as pd
import pytest
import yaml
from feast import FeatureService, FeatureStore
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.project import Project, load_project
from keel.core.settings import Settings, get_settings
from keel.feast_plumbing.project_checks import check_model, read_labels
from monitoring.profile import load_reference_profile
from registry.client import mlflow_client
from registry.model_spec import load_model_spec
from serving import scorer_files
from serving.scorer_files import ARTIFACT_DIR
from tests.integration.delivery_example import applied_example
from training.model_frame import build_model_frame
from training.model_train import ModelTrainResult, train_model

pytestmark = pytest.mark.integration
runner = CliRunner()

ETA_FEATURES = [
    "vehicle",
    "rating",
    "deliveries_7d",
    "avg_delay_min_7d",
    "zone_type",
    "traffic_index",
    "rain_mm",
    "deliveries_in_zone_28d",
    "distance_x_traffic",
    "is_peak_hour",
]


@dataclass(frozen=True)
class Trained:
    root: Path
    project: Project
    settings: Settings
    eta: ModelTrainResult
    tracking_uri_after: tuple[str | None, str | None]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = applied_example(tmp_path_factory.mktemp("delivery-train"))
    settings = Settings(home=root / "ws", actor="trainer")
    project = load_project(root / "keel.yaml")
    from mlflow.tracking import _tracking_service

    elsewhere = f"sqlite:///{root / 'elsewhere.db'}"
    previous = _tracking_service.utils._tracking_uri
    mlflow.set_tracking_uri(elsewhere)
    try:
        eta = train_model(settings, project, "delivery_minutes")
        after = (mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI"))
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]
    assert after == (elsewhere, elsewhere)
    return Trained(root, project, settings, eta, after)


def test_regression_candidates_run_simplest_first_with_the_baselines_figures(
    trained: Trained,
) -> None:
    eta = trained.eta
    names = [c.name for c in eta.candidates]
    assert names == ["mean_baseline", "median_baseline", "one_rule", "ridge", "gradient_boosting"]
    client = mlflow_client(trained.settings)
    for candidate in eta.candidates:
        metrics = client.get_run(candidate.run_id).data.metrics
        assert {f"{s}_{m}" for s in ("valid", "test") for m in ("mae", "rmse", "r2")} <= set(
            metrics
        )
    mean, median = eta.candidates[0], eta.candidates[1]
    labels = pd.read_parquet(trained.root / "data" / "orders.parquet")
    assert 1 < median.test["mae"] <= mean.test["mae"] < labels["delivery_minutes"].std() * 1.5
    assert eta.selected not in {"mean_baseline", "median_baseline"}
    chosen = next(c for c in eta.candidates if c.name == eta.selected)
    assert chosen.test["mae"] < 0.6 * mean.test["mae"]  # the features carry the signal
    assert eta.rows["train"] > eta.rows["valid"] > 0 and eta.rows["test"] > 0


def test_the_regression_champion_carries_its_model_spec_and_gate(trained: Trained) -> None:
    eta, client = trained.eta, mlflow_client(trained.settings)
    assert eta.gate.passed and eta.aliases == ["challenger", "champion"]
    version = client.get_model_version("delivery_minutes", eta.model_version)
    assert sorted(version.aliases) == ["challenger", "champion"]
    tags = version.tags
    assert tags["keel.task"] == "regression"
    assert tags["keel.gate"] == "passed"
    assert float(tags["keel.test_mae"]) < float(tags["keel.baseline_test_mae"]) * 0.99
    assert tags["keel.feature_service"] == "delivery_eta_v1"
    spec = load_model_spec(client, "delivery_minutes", eta.model_version)
    raw = Path(client.download_artifacts(version.run_id, "model_spec.json")).read_bytes()
    assert tags["keel.model_spec_sha256"] == hashlib.sha256(raw).hexdigest() == eta.spec_sha256
    assert spec == json.loads(raw)
    assert spec["task"] == "regression" and spec["output"] == ["prediction"]
    assert spec["feature_service"] == "delivery_eta_v1" and spec["label"] == "delivery_minutes"
    assert spec["join_keys"] == [
        {"name": "courier_id", "dtype": "String"},
        {"name": "zone_id", "dtype": "String"},
    ]
    assert [f["name"] for f in spec["request_fields"]] == ["distance_km", "order_hour"]
    assert [f["name"] for f in spec["features"]] == ETA_FEATURES
    kinds = {f["name"]: f["kind"] for f in spec["features"]}
    assert kinds["vehicle"] == kinds["zone_type"] == "categorical"
    assert kinds["rating"] == "numeric"


def artifact_names(client: object, run_id: str, path: str) -> set[str]:
    return {Path(a.path).name for a in client.list_artifacts(run_id, path)}  # type: ignore[attr-defined]


def test_a_regression_version_logs_its_plots_and_its_reference_profile(trained: Trained) -> None:
    eta, client = trained.eta, mlflow_client(trained.settings)
    plots = artifact_names(client, eta.parent_run_id, "plots")
    assert {
        "predicted_vs_actual_test.png",
        "residuals_test.png",
        "mae_test.png",
        "importance.png",
    } <= plots
    profile = load_reference_profile(trained.settings, "delivery_minutes@champion")
    assert profile.names == ETA_FEATURES
    assert profile.features["vehicle"].kind == "categorical"
    # The rows the model was not fitted on, and its predictions (minutes) as the score.
    assert profile.rows == eta.rows["valid"] + eta.rows["test"]
    frame = pd.read_parquet(
        client.download_artifacts(eta.parent_run_id, "datasets/training_frame.parquet")
    )
    latest = frame.sort_values("event_timestamp").tail(profile.rows)["delivery_minutes"]
    assert profile.score is not None and profile.score.kind == "numeric"
    assert profile.score.mean == pytest.approx(latest.mean(), rel=0.15)
    assert profile.score.maximum is not None and profile.score.maximum > 1.5  # not a probability


def test_the_regression_version_carries_its_compiled_scorer(
    trained: Trained, tmp_path: Path
) -> None:
    client = mlflow_client(trained.settings)
    location = client.get_model_version_download_uri("delivery_minutes", trained.eta.model_version)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{location}/{ARTIFACT_DIR}", dst_path=str(tmp_path)
    )
    saved = scorer_files.load(Path(local))
    assert saved is not None and saved.feature_columns == ETA_FEATURES
    assert saved.choice.path in {"treelite", "numpy-linear", "numpy-one-rule", "numpy-constant"}


def test_training_leaves_mlflows_tracking_uri_as_it_found_it(trained: Trained) -> None:
    elsewhere = f"sqlite:///{trained.root / 'elsewhere.db'}"
    assert trained.tracking_uri_after == (elsewhere, elsewhere)


def test_the_training_frame_holds_exactly_the_declared_features(trained: Trained) -> None:
    client = mlflow_client(trained.settings)
    local = client.download_artifacts(trained.eta.parent_run_id, "datasets/training_frame.parquet")
    logged = pd.read_parquet(local)
    keys = ["courier_id", "zone_id", "event_timestamp"]
    assert list(logged.columns) == [*keys, *ETA_FEATURES, "delivery_minutes"]
    assert "recent_zones" not in logged and "distance_km" not in logged  # list; request field
    assert "is_late" not in logged  # the other model's label in the same table
    # Feast returns an on-demand view's undeclared outputs too: training keeps the declared.
    store = FeatureStore(repo_path=str(trained.root / "feature_repo"))
    odfv = store.get_on_demand_feature_view("order_features")
    store.apply(
        [
            FeatureService(
                name="eta_subset_v1",
                features=[store.get_feature_view("zone_conditions"), odfv[["is_peak_hour"]]],
            )
        ]
    )
    project = trained.project
    spec = project.model("delivery_minutes").model_copy(update={"feature_service": "eta_subset_v1"})
    summary = check_model(store, project, spec)
    data = build_model_frame(store, summary, read_labels(spec, summary.service))
    declared = ["zone_type", "traffic_index", "rain_mm", "is_peak_hour"]
    assert data.features == declared
    # Its only key is the zone's: the courier's column of the label table is left out too.
    assert list(data.frame.columns) == ["zone_id", "event_timestamp", *declared, "delivery_minutes"]


def test_cli_trains_the_binary_model_and_prints_its_table_and_gate(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_HOME", str(trained.settings.home))
    monkeypatch.setenv("KEEL_ACTOR", "trainer")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    try:
        result = runner.invoke(
            app,
            ["train", "late_delivery", "--class-weight"],
            env={"KEEL_CONFIG": str(trained.project.path)},
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "PR AUC" in result.stdout and "logistic_regression" in result.stdout
    client = mlflow_client(trained.settings)
    champion = client.get_model_version_by_alias("late_delivery", "champion")
    assert champion.tags["keel.task"] == "binary"
    assert champion.tags["keel.threshold_rule"] == "min cost (fn 4, fp 1)"
    spec = load_model_spec(client, "late_delivery", str(champion.version))
    assert spec["output"] == ["probability", "label"]
    assert "gate passed" in result.stdout
    assert f"late_delivery version {champion.version}" in result.stdout
    parent = champion.tags["keel.training_run_id"]
    # What the churn example has, a keel.yaml binary model has: class weights, the label table.
    params = client.get_run(parent).data.params
    assert params["class_weight"] == "balanced" and params["label"] == "is_late"
    assert {"pr_curve_test.png", "roc_curve_test.png", "calibration_test.png"} <= (
        artifact_names(client, parent, "plots")
    )
    profile = load_reference_profile(trained.settings, "late_delivery@champion")
    assert profile.score is not None
    assert 0.0 <= profile.score.minimum <= profile.score.maximum <= 1.0  # type: ignore[operator]

    # `keel models list` shows each task's own metrics: both sets, each filled for its model.
    get_settings.cache_clear()
    try:
        listed = runner.invoke(app, ["models", "list"])
        shown = runner.invoke(app, ["models", "show", "delivery_minutes@champion", "--json"])
    finally:
        get_settings.cache_clear()
    assert listed.exit_code == 0, listed.stdout + listed.stderr
    header = next(line for line in listed.stdout.splitlines() if "pr_auc" in line)
    assert "mae" in header and "rmse" in header and "r2" in header
    eta_row = next(line for line in listed.stdout.splitlines() if "delivery_minutes" in line)
    selected = next(c for c in trained.eta.candidates if c.name == trained.eta.selected)
    assert f"{selected.test['mae']:.4f}" in eta_row
    version = json.loads(shown.stdout)
    assert version["task"] == "regression"
    assert set(version["metrics"]) >= {"mae", "rmse", "r2"}
    assert "pr_auc" not in version["metrics"]


def test_cli_refuses_a_model_not_in_keel_yaml_naming_the_models(trained: Trained) -> None:
    result = runner.invoke(
        app, ["train", "eta"], env={"KEEL_CONFIG": str(trained.project.path), "COLUMNS": "400"}
    )
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {trained.project.path}: no model 'eta': expected one of "
        "delivery_minutes, late_delivery\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["late_delivery", "--candidates", "ridge"],
            "--candidates: expected one or more of one_rule, logistic_regression, "
            "gradient_boosting for the binary model late_delivery, got ridge",
        ),
        (
            ["delivery_minutes", "--class-weight"],
            "--class-weight: delivery_minutes is a regression",
        ),
        (["late_delivery", "--horizon-days", "10"], "--horizon-days: only for the built-in churn"),
    ],
)
def test_cli_refuses_an_option_the_model_cannot_take_in_one_line(
    trained: Trained, args: list[str], message: str
) -> None:
    result = runner.invoke(
        app, ["train", *args], env={"KEEL_CONFIG": str(trained.project.path), "COLUMNS": "400"}
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1


def test_a_regression_model_on_shuffled_labels_gets_no_alias(trained: Trained) -> None:
    labels = pd.read_parquet(trained.root / "data" / "orders.parquet")
    shuffled = labels.assign(
        delivery_minutes=labels["delivery_minutes"].sample(frac=1.0, random_state=1).to_numpy()
    )
    shuffled.to_parquet(trained.root / "data" / "noise.parquet", index=False)
    config = yaml.safe_load((trained.root / "keel.yaml").read_text())
    config["models"] = [
        {**config["models"][0], "name": "noise_minutes", "labels": "data/noise.parquet"}
    ]
    path = trained.root / "noise.yaml"
    path.write_text(yaml.safe_dump(config))
    noise = train_model(trained.settings, load_project(path))
    assert not noise.gate.beats_baseline and noise.aliases == []
    version = mlflow_client(trained.settings).get_model_version(
        "noise_minutes", noise.model_version
    )
    assert version.aliases == []
    assert version.tags["keel.gate"] == "failed"
    assert "below the best baseline's" in version.tags["keel.gate_reason"]

"""Monitoring and the data lab per model, on the delivery example's regression model.

One module fixture: a copy of the session's delivery example (`conftest.delivery`: applied,
both models trained with real Feast and real MLflow on SQLite), its prediction log filled with
the regression model's predictions (and feedback) beside another model's, so every command must
pick the named model's rows. The CLI runs with KEEL_HOME and
KEEL_CONFIG pointing there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.settings import Settings, get_settings
from registry.client import mlflow_client
from registry.model_spec import load_model_spec
from serving.prediction_log import Feedback, PredictionRecord, open_prediction_log
from synthetic.model_table import model_columns, model_table, rebuilt_frame
from tests.delivery_workspace import DeliveryWorkspace, copy_delivery

pytestmark = pytest.mark.integration
runner = CliRunner()

MODEL = "delivery_minutes"
REF = f"{MODEL}@champion"
FEEDBACK_ROWS = 60


@dataclass(frozen=True)
class Lab:
    root: Path
    settings: Settings
    env: dict[str, str]
    frame: pd.DataFrame
    """The model's training frame (features and label), as `model_table` reads it."""
    logged: pd.DataFrame
    """The frame's latest 30% (validation and test, what the reference profile holds): the
    logged predictions' features."""
    mae: float
    """The logged predictions' mean absolute error against their feedback."""


def _records(
    frame: pd.DataFrame, now: datetime, rng: np.random.Generator
) -> list[PredictionRecord]:
    """Predictions of the regression model (label plus noise) and a binary model's, 1 min apart."""
    records = []
    features = [c for c in frame.columns if c != MODEL]
    for i, row in enumerate(frame.itertuples(index=False)):
        values = dict(zip(frame.columns, row, strict=True))
        common = {
            "created_at": now - timedelta(minutes=i),
            "model_alias": "champion",
            "run_id": "run",
            "code_commit": "test",
            "request_id": None,
            "served_by": "champion",
            "entity": {"courier_id": f"c{i % 7}", "zone_id": "z1"},
        }
        records.append(
            PredictionRecord(
                prediction_id=f"eta-{i}",
                model_name=MODEL,
                model_version="1",
                task="regression",
                score=float(values[MODEL]) + float(rng.normal(0, 2)),
                label=None,
                features={name: _plain(values[name]) for name in features},
                **common,
            )
        )
        records.append(
            PredictionRecord(
                prediction_id=f"late-{i}",
                model_name="late_delivery",
                model_version="1",
                task="binary",
                score=0.3,
                label=0,
                features={"something_else": 1.0},
                **common,
            )
        )
    return records


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


@pytest.fixture(scope="module")
def lab(delivery: DeliveryWorkspace, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    copy = copy_delivery(delivery, tmp_path_factory.mktemp("delivery-monitor"))
    root, settings = copy.root, Settings(home=copy.root / "ws")
    champion = mlflow_client(settings).get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "1"
    frame = model_table(settings, REF).frame
    logged = frame.iloc[int(len(frame) * 0.7) :].reset_index(drop=True)
    rng = np.random.default_rng(0)
    records = _records(logged, datetime.now(UTC), rng)
    log = open_prediction_log(settings)
    try:
        log.append(records)
        errors = []
        for record in records:
            if record.model_name != MODEL or len(errors) == FEEDBACK_ROWS:
                continue
            truth = float(logged[MODEL].iloc[len(errors)])
            log.record_feedback_now(
                Feedback(record.prediction_id, truth, record.created_at + timedelta(minutes=30))
            )
            errors.append(abs(record.score - truth))
    finally:
        log.close()
    env = {"KEEL_HOME": str(root / "ws"), "KEEL_CONFIG": str(root / "keel.yaml")}
    return Lab(root, settings, env, frame, logged, float(np.mean(errors)))


def _keel(lab: Lab, *args: str) -> tuple[int, str]:
    """`keel ARGS` on the lab's workspace and keel.yaml (settings re-read from that env)."""
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, list(args), env=lab.env)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def test_the_model_table_is_the_training_frame_without_keys_or_timestamps(lab: Lab) -> None:
    assert "courier_id" not in lab.frame and "event_timestamp" not in lab.frame
    assert lab.frame.columns[-1] == MODEL and len(lab.frame) > 100
    assert {"distance_x_traffic", "vehicle", "zone_type"} <= set(lab.frame.columns)


def test_several_models_in_keel_yaml_need_model(lab: Lab) -> None:
    code, output = _keel(lab, "monitor", "performance")
    assert code == 2 and "delivery_minutes, late_delivery" in output and "--model" in output


def test_performance_of_a_regression_model_is_its_mae_over_feedback(lab: Lab) -> None:
    code, output = _keel(lab, "monitor", "performance", "--model", MODEL, "--json")
    assert code == 0, output
    report = json.loads(output)
    whole = next(r for r in report["rows"] if r["day"] == "all")
    assert whole["predictions"] == len(lab.logged) and whole["labelled"] == FEEDBACK_ROWS
    assert whole["mae"] == pytest.approx(lab.mae)
    assert whole["rmse"] >= whole["mae"]


def test_performance_of_a_binary_model_in_the_same_log_keeps_its_own_figures(lab: Lab) -> None:
    code, output = _keel(lab, "monitor", "performance", "--model", "late_delivery", "--json")
    assert code == 0, output
    whole = next(r for r in json.loads(output)["rows"] if r["day"] == "all")
    assert whole["predictions"] == len(lab.logged) and "pr_auc" in whole and "mae" not in whole
    assert whole["labelled"] == 0 and whole["note"].startswith("too few labels")


def test_drift_reads_only_the_models_rows_of_the_log(lab: Lab) -> None:
    args = ["--model", REF, "--current", "log:1d", "--min-rows", "50", "--json"]
    code, output = _keel(lab, "monitor", "drift", *args)
    assert code == 0, output
    report = json.loads(output)
    assert report["rows"] == len(lab.logged) and report["verdict"] == "no drift"
    assert {f["name"] for f in report["features"]} >= {"vehicle", "distance_x_traffic"}


def test_drift_and_validation_catch_a_shifted_feature(lab: Lab, tmp_path: Path) -> None:
    shifted = lab.logged.assign(rating=lab.logged["rating"] + 10.0)
    shifted.to_parquet(tmp_path / "window.parquet")
    window = str(tmp_path / "window.parquet")
    args = ["--model", MODEL, "--current", window, "--min-rows", "50", "--json"]
    code, output = _keel(lab, "monitor", "drift", *args)
    assert code == 1, output
    assert "rating" in json.loads(output)["drifted_features"]
    code, output = _keel(lab, "monitor", "validate", "--model", MODEL, "--input", window)
    assert code == 1 and "rating" in output


def test_the_report_shows_a_regression_models_error(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    args = ["monitor", "report", "--model", MODEL, "--current", "log:all"]
    code, output = _keel(lab, *args, "--predictions", "log:all", "--out", str(out))
    assert code == 0, output
    page = out.read_text()
    assert "MAE" in page and "RMSE" in page and f"{lab.mae:.3f}" in page
    assert "Monitoring report: delivery_minutes@champion" in page
    assert "Score distribution (the prediction)" in page


def test_data_lab_on_the_models_training_frame(lab: Lab, tmp_path: Path) -> None:
    real, holdout = tmp_path / "real.parquet", tmp_path / "holdout.parquet"
    code, output = _keel(
        lab,
        "data",
        "real-table",
        "--model",
        MODEL,
        "--out",
        str(real),
        "--holdout-out",
        str(holdout),
    )
    assert code == 0, output
    assert "delivery_minutes version 1" in output
    written = pd.concat([pd.read_parquet(real), pd.read_parquet(holdout)], ignore_index=True)
    assert sorted(map(tuple, written.astype(str).to_numpy())) == sorted(
        map(tuple, lab.frame.astype(str).to_numpy())
    )
    synthetic = tmp_path / "synthetic.parquet"
    code, output = _keel(
        lab, "data", "synthesize", "--model", MODEL, "--rows", "150", "--out", str(synthetic)
    )
    assert code == 0, output
    rows = pd.read_parquet(synthetic)
    assert len(rows) == 150 and list(rows.columns) == list(lab.frame.columns)
    page = tmp_path / "lab.html"
    code, output = _keel(
        lab, "data", "report", "--model", MODEL, "--synthetic", str(synthetic), "--out", str(page)
    )
    assert code in (0, 1) and "overall:" in output, output
    assert "without a holdout" not in output  # the model's holdout was held out
    assert page.exists() and "fidelity" in page.read_text().lower()


def test_data_lab_names_an_unknown_model(lab: Lab, tmp_path: Path) -> None:
    code, output = _keel(
        lab, "data", "real-table", "--model", "nope", "--out", str(tmp_path / "x.parquet")
    )
    assert code == 2 and "nope" in output


def test_a_version_without_a_logged_frame_has_it_rebuilt_from_keel_yaml(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_CONFIG", lab.env["KEEL_CONFIG"])
    rebuilt = rebuilt_frame(MODEL)
    assert rebuilt is not None and "rebuilt with delivery_eta_v1" in rebuilt[1]
    spec = load_model_spec(mlflow_client(lab.settings), MODEL, "1")
    pd.testing.assert_frame_equal(model_columns(rebuilt[0], spec), lab.frame, check_dtype=False)
    assert rebuilt_frame("not_in_keel_yaml") is None

"""Live performance from a prediction-log export: per version and day, or an honest 'too few'."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.errors import InvalidInput
from monitoring.inputs import predictions_task, read_predictions
from monitoring.performance import (
    PerformanceReport,
    RegressionPerformanceReport,
    expected_calibration_error,
    live_performance,
    task_live_performance,
)

runner = CliRunner()


def prediction_log(rows: int = 600, seed: int = 0, labelled: float = 1.0) -> pd.DataFrame:
    """The export's shape (features left out: performance does not read them)."""
    rng = np.random.default_rng(seed)
    outcome = (rng.random(rows) < 0.2).astype(float)
    score = np.clip(0.2 + 0.4 * (outcome - 0.2) + rng.normal(0, 0.15, rows), 0, 1)
    outcome[rng.random(rows) >= labelled] = np.nan
    created = pd.Timestamp("2025-06-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 3 * 86_400, rows)), unit="s"
    )
    return pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(rows)],
            "created_at": created,
            "customer_id": np.arange(rows),
            "score": score,
            "label": (score > 0.3).astype("int64"),
            "model_name": "churn",
            "model_version": np.where(np.arange(rows) % 3 == 0, "2", "1"),
            "served_by": "champion",
            "outcome": pd.array(outcome, dtype="Int64"),
            "observed_at": created + pd.Timedelta(days=30),
        }
    )


def test_metrics_per_version_match_sklearn() -> None:
    log = prediction_log()
    report = live_performance(log)
    v1 = next(r for r in report.by_version if r.model_version == "1")
    mine = log[log.model_version == "1"]
    y, s = mine.outcome.astype(int), mine.score
    assert v1.pr_auc == pytest.approx(average_precision_score(y, s))
    assert v1.roc_auc == pytest.approx(roc_auc_score(y, s))
    assert v1.predicted_positive_rate == pytest.approx(mine.label.mean())
    assert v1.observed_rate == pytest.approx(y.mean())
    assert v1.note is None


def test_rows_per_day_per_version() -> None:
    report = live_performance(prediction_log())
    assert {(r.model_version, r.day) for r in report.by_day} == {
        (v, d) for v in ("1", "2") for d in ("2025-06-01", "2025-06-02", "2025-06-03")
    }
    assert sum(r.predictions for r in report.by_day) == 600


def test_too_few_labels_say_so_instead_of_a_number() -> None:
    report = live_performance(prediction_log(rows=600, labelled=0.05), min_labels=50)
    for row in report.rows:
        assert row.pr_auc is None and row.roc_auc is None and row.calibration_error is None
        assert row.note is not None and row.note.startswith("too few labels")


def test_one_class_only_is_too_few_labels() -> None:
    log = prediction_log()
    log["outcome"] = pd.array([0] * len(log), dtype="Int64")
    assert all(r.pr_auc is None for r in live_performance(log).rows)


def test_calibration_error_is_zero_when_scores_match_rates() -> None:
    scores = np.array([0.25] * 8 + [0.75] * 4)
    outcomes = np.array([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(outcomes, scores) == pytest.approx(0.0)
    assert expected_calibration_error(outcomes, np.full(12, 0.95)) == pytest.approx(0.95 - 5 / 12)


def test_cli_performance_prints_json_per_version_and_day(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    prediction_log().to_parquet(path)
    result = runner.invoke(app, ["monitor", "performance", "--predictions", str(path), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert len(rows) == 2 + 6 and all(r["pr_auc"] is not None for r in rows)


def test_cli_performance_refuses_a_file_that_is_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "features.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(path)
    result = runner.invoke(app, ["monitor", "performance", "--predictions", str(path)])
    assert result.exit_code == 2 and "features.parquet" in result.output


def test_an_export_of_an_older_keel_is_read_with_its_score_column_renamed(tmp_path: Path) -> None:
    old = prediction_log(rows=60).rename(columns={"score": "churn_probability"})
    old.to_parquet(tmp_path / "old.parquet")
    frame = read_predictions(tmp_path / "old.parquet")
    assert "churn_probability" not in frame.columns
    assert frame["score"].tolist() == old["churn_probability"].tolist()
    assert live_performance(frame).by_version


def test_an_export_of_several_models_is_refused_unless_one_is_named(tmp_path: Path) -> None:
    mixed = prediction_log(rows=60).assign(task="binary")
    mixed.loc[:9, "model_name"] = "late_delivery"
    mixed.loc[:9, "task"] = "regression"
    mixed.to_parquet(tmp_path / "mixed.parquet")
    with pytest.raises(InvalidInput, match=r"model_name holds several models.*--model"):
        read_predictions(tmp_path / "mixed.parquet")
    late = read_predictions(tmp_path / "mixed.parquet", model="late_delivery")
    assert len(late) == 10 and predictions_task(late) == "regression"
    assert predictions_task(read_predictions(tmp_path / "mixed.parquet", model="churn")) == (
        "binary"
    )
    with pytest.raises(InvalidInput, match=r"no rows of model nope \(found churn, late_delivery\)"):
        read_predictions(tmp_path / "mixed.parquet", model="nope")


def test_the_task_picks_the_figures(tmp_path: Path) -> None:
    frame = prediction_log(rows=60)
    assert isinstance(task_live_performance(frame, "binary"), PerformanceReport)
    regression = frame.assign(task="regression", label=None)
    report = task_live_performance(regression, "regression", min_labels=5)
    assert isinstance(report, RegressionPerformanceReport) and report.by_version[0].mae is not None
    with pytest.raises(ValueError, match="binary or regression"):
        task_live_performance(frame, "ranking")

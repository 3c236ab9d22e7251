"""Regression candidates, metrics and gate; the time split by fractions; MLflow's global state."""

from __future__ import annotations

import os

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from registry.client import fluent_tracking
from training.gate import regression_gate
from training.regression import OneRuleRegressor, candidates, regression_metrics
from training.split import split_by_fractions


@pytest.fixture
def frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(5)
    n = 600
    x = pd.DataFrame(
        {
            "vehicle": rng.choice(["bike", "car"], n),
            "distance_km": rng.gamma(2.0, 2.0, n),
            "noise": rng.normal(size=n),
            "rating": rng.normal(4.5, 0.2, n),
        }
    )
    x.loc[rng.random(n) < 0.05, "distance_km"] = np.nan
    y = 5 + 3 * x["distance_km"].fillna(4) + 4 * (x["vehicle"] == "bike") + rng.normal(0, 1, n)
    return x, y


def test_one_rule_regressor_fits_a_line_on_the_most_telling_feature(frame) -> None:
    x, y = frame
    rule = OneRuleRegressor().fit(x, y)
    assert rule.feature_ == "distance_km"
    assert rule.slope_ == pytest.approx(3.0, abs=0.3)
    assert list(rule.feature_names_in_) == list(x.columns)  # serving reads every input column
    predicted = rule.predict(x)
    assert np.isfinite(predicted).all()  # a missing distance takes the training median
    assert regression_metrics(y, predicted)["r2"] > 0.7


def test_one_rule_regressor_keeps_the_estimator_contract(frame) -> None:
    x, y = frame
    with pytest.raises(NotFittedError):
        OneRuleRegressor().predict(x)
    with pytest.raises(ValueError, match="min_rows must be an int >= 2, got 1"):
        OneRuleRegressor(min_rows=1).fit(x, y)
    with pytest.raises(ValueError, match="numeric feature that is not constant"):
        OneRuleRegressor().fit(x[["vehicle"]].assign(flat=1.0), y)


def test_regression_candidates_run_simplest_first_and_beat_the_baselines(frame) -> None:
    x, y = frame
    fitted = {
        name: pipeline.fit(x, y)
        for name, pipeline in candidates(list(x.columns), categorical=["vehicle"])
    }
    assert list(fitted) == [
        "mean_baseline",
        "median_baseline",
        "one_rule",
        "ridge",
        "gradient_boosting",
    ]
    mae = {name: regression_metrics(y, model.predict(x))["mae"] for name, model in fitted.items()}
    assert mae["ridge"] < mae["one_rule"] < mae["median_baseline"] <= mae["mean_baseline"]
    chosen = candidates(list(x.columns), categorical=["vehicle"], chosen=["ridge"])
    assert [name for name, _ in chosen] == ["mean_baseline", "median_baseline", "ridge"]


def test_regression_metrics_are_mae_rmse_and_r2() -> None:
    metrics = regression_metrics([1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 3.0, 2.0])
    assert metrics["mae"] == pytest.approx(0.75)
    assert metrics["rmse"] == pytest.approx(np.sqrt(5 / 4))
    assert metrics["r2"] == pytest.approx(1 - 5 / 5)
    with pytest.raises(ValueError, match="differ in length"):
        regression_metrics([1.0, 2.0], [1.0])


def test_regression_gate_needs_the_margin_over_the_best_baseline() -> None:
    assert regression_gate(9.9, 10.0, margin=0.01).passed  # exactly 1% better
    lost = regression_gate(9.95, 10.0, margin=0.01)
    assert not lost.passed and not lost.beats_baseline
    assert "not 1% below the best baseline's 10" in lost.reason


def test_regression_gate_never_passes_a_version_worse_than_the_champion() -> None:
    behind = regression_gate(5.0, 10.0, champion_mae=4.0, margin=0.01)
    assert behind.beats_baseline and not behind.passed
    assert "above the champion's 4" in behind.reason
    assert regression_gate(4.0, 10.0, champion_mae=4.0).passed  # ties keep the newer version


def test_regression_gate_refuses_to_beat_a_perfect_baseline() -> None:
    """A constant label: the baselines' MAE is 0, so no model can be 1% better."""
    assert not regression_gate(0.0, 0.0, margin=0.01).beats_baseline
    assert not regression_gate(0.0, 0.0, margin=0.0).beats_baseline
    with pytest.raises(ValueError, match="margin must be in"):
        regression_gate(1.0, 2.0, margin=1.5)


def test_split_by_fractions_is_in_time_order_and_keeps_ties_together() -> None:
    times = pd.to_datetime(["2026-01-01"] * 4 + ["2026-01-02"] * 3 + ["2026-01-03"] * 3, utc=True)
    frame = pd.DataFrame({"event_timestamp": times[::-1], "y": range(10)})
    split = split_by_fractions(frame, timestamp="event_timestamp", train=0.5, valid=0.2)
    # 50% would cut the 2026-01-02 rows: they move together to validation.
    assert (len(split.train), len(split.valid), len(split.test)) == (4, 3, 3)
    assert split.train["event_timestamp"].max() < split.valid["event_timestamp"].min()
    assert split.valid["event_timestamp"].max() < split.test["event_timestamp"].min()
    with pytest.raises(ValueError, match="leaves valid empty"):
        split_by_fractions(frame.iloc[:4], timestamp="event_timestamp", train=0.5, valid=0.25)


def test_fluent_tracking_puts_mlflows_global_state_back(tmp_path, monkeypatch) -> None:
    outside = f"sqlite:///{tmp_path / 'outside.db'}"
    # as in a fresh process: no global URI set yet (earlier tests in this process may have set one)
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", outside)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    inside = f"sqlite:///{tmp_path / 'inside.db'}"
    with fluent_tracking(inside):
        assert mlflow.get_tracking_uri() == inside
        mlflow.set_experiment("somewhere")
    assert mlflow.get_tracking_uri() == outside
    assert os.environ["MLFLOW_TRACKING_URI"] == outside
    assert "MLFLOW_EXPERIMENT_ID" not in os.environ

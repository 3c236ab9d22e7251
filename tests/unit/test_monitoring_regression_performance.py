"""Live performance of a regression model: MAE, RMSE and bias over predictions with feedback,
from an export shaped as the generic log's (`score` is the prediction, `outcome` the truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error

from monitoring.performance import ALL_DAYS, regression_live_performance


def regression_log(rows: int = 300, seed: int = 0, labelled: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    outcome = rng.gamma(4.0, 8.0, rows)
    score = outcome + rng.normal(1.5, 4.0, rows)  # biased high by about 1.5 minutes
    outcome[rng.random(rows) >= labelled] = np.nan
    created = pd.Timestamp("2025-06-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 2 * 86_400, rows)), unit="s"
    )
    return pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(rows)],
            "created_at": created,
            "model_name": "delivery_minutes",
            "model_version": np.where(np.arange(rows) % 4 == 0, "2", "1"),
            "entity_key": [f'{{"courier_id":"c{i % 50}"}}' for i in range(rows)],
            "task": "regression",
            "score": score,
            "label": pd.array([None] * rows, dtype="Int64"),
            "served_by": "champion",
            "outcome": outcome,
        }
    )


def test_mae_rmse_and_bias_per_version_match_sklearn() -> None:
    log = regression_log()
    report = regression_live_performance(log)
    assert [r.model_version for r in report.by_version] == ["1", "2"]
    for row in report.by_version:
        mine = log[log["model_version"] == row.model_version]
        assert row.predictions == row.labelled == len(mine)
        assert row.mae == pytest.approx(mean_absolute_error(mine["outcome"], mine["score"]))
        assert row.rmse == pytest.approx(
            np.sqrt(mean_squared_error(mine["outcome"], mine["score"]))
        )
        assert row.bias == pytest.approx((mine["score"] - mine["outcome"]).mean())
        assert 0.5 < row.bias < 2.5
        assert row.note is None


def test_rows_per_day_and_only_labelled_rows_count() -> None:
    log = regression_log(labelled=0.5, seed=1)
    report = regression_live_performance(log, min_labels=5)
    days = sorted({r.day for r in report.by_day})
    assert days == ["2025-06-01", "2025-06-02"]
    whole = next(r for r in report.by_version if r.model_version == "1")
    mine = log[(log["model_version"] == "1") & log["outcome"].notna()]
    assert whole.labelled == len(mine) < whole.predictions
    assert whole.mae == pytest.approx((mine["score"] - mine["outcome"]).abs().mean())
    assert {r.day for r in report.rows} == {ALL_DAYS, *days}


def test_too_few_labels_say_so_instead_of_a_number() -> None:
    log = regression_log(rows=40, labelled=0.1, seed=2)
    report = regression_live_performance(log, min_labels=20)
    assert all(r.mae is None and r.rmse is None for r in report.rows)
    assert all("too few labels" in (r.note or "") for r in report.rows)
    assert report.to_dict()["rows"][0]["mae"] is None


def test_binary_rows_are_refused_not_mixed_in() -> None:
    log = regression_log(rows=30)
    log.loc[0, "task"] = "binary"
    with pytest.raises(ValueError, match=r"task.*binary"):
        regression_live_performance(log)


def test_an_export_without_score_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="score"):
        regression_live_performance(regression_log(rows=10).drop(columns="score"))

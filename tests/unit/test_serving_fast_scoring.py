"""Every model kind's fast scoring path equals its pipeline, and is refused at load when not."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_fakes import FakeModels, fake_runtime, loaded_model

from serving import scoring
from serving.app import create_app
from serving.scoring import choose_scorer, pipeline_scorer
from training import models, regression

CATEGORIES = ["plan", "region"]
COLUMNS = ["plan", "region", "logins_7d", "minutes_30d", "tickets_30d", "tenure_days", "trend"]


def snapshot(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
            "logins_7d": rng.poisson(5, n).astype(float),
            "minutes_30d": rng.gamma(2.0, 100.0, n),
            "tickets_30d": rng.poisson(0.4, n).astype(float),
            "tenure_days": rng.uniform(0, 900, n),
            "trend": rng.normal(1.0, 0.4, n),
        }
    )
    for column in ("logins_7d", "minutes_30d", "trend"):
        x.loc[rng.random(n) < 0.08, column] = np.nan
    return x


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series, pd.Series, list[dict[str, Any]]]:
    """A training frame with labels, and a test snapshot as serving sees it: None for missing
    values, unseen categories, missing categories."""
    train = snapshot(2500, 1)
    logit = -2.0 - 0.3 * (train["logins_7d"].fillna(5) - 5) + 0.9 * (train["plan"] == "basic")
    rng = np.random.default_rng(2)
    churned = pd.Series((rng.random(len(train)) < 1 / (1 + np.exp(-logit))).astype(int))
    value = 0.01 * train["minutes_30d"].fillna(0) + 3 * (train["region"] == "east") + logit
    rows = snapshot(1500, 3).astype(object).to_dict("records")
    for i, row in enumerate(rows):
        row.update({k: None for k, v in row.items() if isinstance(v, float) and np.isnan(v)})
        if i % 17 == 0:
            row["plan"] = "platinum"  # never seen in training
        if i % 23 == 0:
            row["region"] = None
        if i % 101 == 0:
            row.pop("tenure_days")  # absent altogether
    return train, churned, value, rows


CLASSIFIER_PATHS = {
    "baseline": "numpy-constant",
    "one_rule": "numpy-one-rule",
    "logistic_regression": "numpy-linear",
    "gradient_boosting": "treelite",
}
REGRESSOR_PATHS = {
    "mean_baseline": "numpy-constant",
    "median_baseline": "numpy-constant",
    "one_rule": "numpy-one-rule",
    "ridge": "numpy-linear",
    "gradient_boosting": "treelite",
}


@pytest.mark.parametrize("kind", list(CLASSIFIER_PATHS))
def test_every_classifier_kind_has_a_fast_path_equal_to_predict_proba(data: Any, kind: str) -> None:
    train, churned, _, rows = data
    pipeline = dict(models.candidates(COLUMNS, categorical=CATEGORIES))[kind].fit(train, churned)
    choice = choose_scorer(pipeline, COLUMNS)
    assert choice.path == CLASSIFIER_PATHS[kind], choice.describe()
    frame = pd.DataFrame([[row.get(c) for c in COLUMNS] for row in rows], columns=COLUMNS)
    expected = pipeline.predict_proba(frame)[:, 1]
    np.testing.assert_allclose(choice.scorer(rows), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(choice.scorer(rows[:1]), expected[:1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", list(REGRESSOR_PATHS))
def test_every_regressor_kind_has_a_fast_path_equal_to_predict(data: Any, kind: str) -> None:
    train, _, value, rows = data
    candidates = regression.candidates(COLUMNS, categorical=CATEGORIES)
    pipeline = dict(candidates)[kind].fit(train, value)
    choice = choose_scorer(pipeline, COLUMNS)
    assert choice.path == REGRESSOR_PATHS[kind], choice.describe()
    frame = pd.DataFrame([[row.get(c) for c in COLUMNS] for row in rows], columns=COLUMNS)
    np.testing.assert_allclose(choice.scorer(rows), pipeline.predict(frame), rtol=0, atol=1e-6)


def test_a_fast_path_that_differs_on_probe_rows_is_refused_logged_and_reported(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    make_settings: Any,
    tmp_path: Path,
) -> None:
    class OffByALittle:
        path = "numpy-linear"

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __call__(self, rows: Any) -> np.ndarray:
            return np.asarray(self.inner(rows)) + 1e-4

    compile_pipeline = scoring.compile_pipeline
    monkeypatch.setattr(scoring, "compile_pipeline", lambda p: OffByALittle(compile_pipeline(p)))
    with caplog.at_level(logging.WARNING, logger="serving.scoring"):
        models = FakeModels(loaded_model("4"))
    served = models.current.champion
    assert served.scoring.startswith("sklearn (numpy-linear path differs by 0.0001 on 256 probe")
    assert "model churn v4" in caplog.text and "scoring through scikit-learn" in caplog.text
    rows = [{"plan": "basic", "logins_7d": 3, "spend_30d": None}]
    expected = pipeline_scorer(served.model.pipeline, served.model.feature_columns)(rows)
    assert served.scorer(rows) == pytest.approx(expected, abs=0)

    settings = make_settings()
    app = create_app(settings)
    app.state.runtime = fake_runtime(settings, models, tmp_path, app.state.metrics)
    ready = TestClient(app).get("/readyz")  # no lifespan: the fake runtime is already set
    app.state.runtime.close()
    assert ready.json()["checks"]["scoring"] == f"champion v4: {served.scoring}"


def test_readyz_names_the_fast_path_of_each_served_version(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings()
    app = create_app(settings)
    models = FakeModels(loaded_model("1"), loaded_model("2"))
    app.state.runtime = fake_runtime(settings, models, tmp_path, app.state.metrics)
    checks = TestClient(app).get("/readyz").json()["checks"]
    app.state.runtime.close()
    assert checks["scoring"] == "champion v1: numpy-linear; challenger v2: numpy-linear"

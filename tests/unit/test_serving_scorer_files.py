"""Compiled scorers saved to disk come back equal to their pipeline, are proven again when
loaded (a wrong saved answer or another library version is refused), and let the serving model
cache load a version without scikit-learn, skops or MLflow until the pipeline is asked for."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest

from serving import scorer_files
from serving.model_files_cache import ModelFilesCache
from serving.scoring import SKLEARN, choose_scorer
from training import models, regression
from training.models import SKOPS_TRUSTED_TYPES

CATEGORIES = ["plan", "region"]
COLUMNS = ["plan", "region", "logins_7d", "minutes_30d", "tenure_days"]


def snapshot(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "region": rng.choice(["north", "south", "east"], n),
            "logins_7d": rng.poisson(5, n).astype(float),
            "minutes_30d": rng.gamma(2.0, 100.0, n),
            "tenure_days": rng.uniform(0, 900, n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "logins_7d"] = np.nan
    return frame


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[dict[str, Any]], pd.DataFrame]:
    """Training frame, binary and numeric labels, and a test snapshot as rows and as a frame
    (missing values as None, an unseen and a missing category)."""
    train = snapshot(900, 1)
    rng = np.random.default_rng(2)
    logit = -1.0 - 0.3 * (train["logins_7d"].fillna(5) - 5) + (train["plan"] == "basic")
    churned = (rng.random(len(train)) < 1 / (1 + np.exp(-logit))).to_numpy().astype(int)
    value = (0.01 * train["minutes_30d"] + 3 * (train["region"] == "east")).to_numpy()
    test = snapshot(400, 3).astype(object)
    test.loc[::17, "plan"] = "platinum"
    test.loc[::23, "region"] = None
    test = test.where(test.notna(), None)
    rows = test.to_dict("records")
    return train, churned, value, rows, test


def fitted(data: Any, task: str, kind: str) -> Any:
    train, churned, value, _, _ = data
    if task == "binary":
        return dict(models.candidates(COLUMNS, categorical=CATEGORIES))[kind].fit(train, churned)
    return dict(regression.candidates(COLUMNS, categorical=CATEGORIES))[kind].fit(train, value)


def save_model(pipeline: Any, directory: Path) -> None:
    """As training logs it (skops, with training's trusted types)."""
    mlflow.sklearn.save_model(pipeline, str(directory), skops_trusted_types=SKOPS_TRUSTED_TYPES)


KINDS = [
    ("binary", "baseline"),
    ("binary", "one_rule"),
    ("binary", "logistic_regression"),
    ("binary", "gradient_boosting"),
    ("regression", "mean_baseline"),
    ("regression", "one_rule"),
    ("regression", "ridge"),
    ("regression", "gradient_boosting"),
]


@pytest.mark.parametrize(("task", "kind"), KINDS)
def test_a_saved_scorer_comes_back_equal_to_its_pipeline(
    data: Any, task: str, kind: str, tmp_path: Path
) -> None:
    pipeline = fitted(data, task, kind)
    choice = choose_scorer(pipeline, COLUMNS)
    assert choice.path != SKLEARN
    assert scorer_files.save(tmp_path / "7", choice, COLUMNS)

    saved = scorer_files.load(tmp_path / "7")
    assert saved is not None
    assert saved.feature_columns == COLUMNS
    assert saved.choice.path == choice.path
    _, _, _, rows, frame = data
    frame = frame[COLUMNS].astype({c: float for c in COLUMNS if c not in CATEGORIES})
    truth = pipeline.predict_proba(frame)[:, 1] if task == "binary" else pipeline.predict(frame)
    np.testing.assert_array_equal(saved.choice.scorer(rows), choice.scorer(rows))
    np.testing.assert_allclose(saved.choice.scorer(rows), truth, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(saved.choice.scorer(rows[:1]), choice.scorer(rows[:1]))


def test_a_saved_scorer_whose_answers_differ_from_the_pipeline_is_refused(
    data: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    choice = choose_scorer(fitted(data, "binary", "logistic_regression"), COLUMNS)
    scorer_files.save(tmp_path / "3", choice, COLUMNS)
    state = tmp_path / "3" / scorer_files.STATE_FILE
    body = json.loads(state.read_text())
    body["state"]["offset"] += 1e-3  # a scorer that no longer gives the pipeline's answers
    state.write_text(json.dumps(body))
    with caplog.at_level(logging.WARNING, logger="serving.scorer_files"):
        assert scorer_files.load(tmp_path / "3", name="model churn v3") is None
    assert "model churn v3" in caplog.text and "probe rows" in caplog.text

    body["libraries"]["scikit-learn"] = "0.0.1"
    body["state"]["offset"] -= 1e-3
    state.write_text(json.dumps(body))
    assert scorer_files.load(tmp_path / "3") is None  # proven under other libraries: not used
    (tmp_path / "3" / scorer_files.STATE_FILE).write_text('{"format": 1, "pa')  # torn
    assert scorer_files.load(tmp_path / "3") is None
    assert scorer_files.save(tmp_path / "3", choice, COLUMNS)  # replaced by a good one
    assert scorer_files.load(tmp_path / "3") is not None


def test_the_model_cache_compiles_once_then_loads_without_the_pipeline(
    data: Any, tmp_path: Path
) -> None:
    pipeline = fitted(data, "binary", "gradient_boosting")
    files = ModelFilesCache(tmp_path / "cache", "churn")
    save_model(pipeline, files.version_dir("5"))
    _, _, _, rows, _ = data

    first = files._open("5", run_id="r5", tags={}, alias=None)
    assert first.scorer.path == "treelite"
    assert first.source.loaded  # compiled from the pipeline it just loaded
    assert files.scorer_dir("5").exists()

    again = files._open("5", run_id="r5", tags={}, alias="champion")
    assert again.scorer.path == "treelite" and again.feature_columns == first.feature_columns
    assert not again.source.loaded  # proven from the saved probe answers alone
    np.testing.assert_array_equal(again.scorer.scorer(rows), first.scorer.scorer(rows))
    assert again.pipeline.steps[-1][0] == pipeline.steps[-1][0]  # loaded when asked for
    assert again.source.loaded


def test_a_cached_version_with_its_scorer_loads_without_sklearn_skops_or_mlflow(
    data: Any, tmp_path: Path
) -> None:
    files = ModelFilesCache(tmp_path / "cache", "churn")
    save_model(fitted(data, "binary", "gradient_boosting"), files.version_dir("2"))
    files._open("2", run_id="r2", tags={}, alias=None)  # compiles and saves
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from serving.model_files_cache import ModelFilesCache\n"
        f"files = ModelFilesCache(Path({str(tmp_path / 'cache')!r}), 'churn')\n"
        "model = files._open('2', run_id='r2', tags={}, alias=None)\n"
        "print(model.scorer.path, model.scorer.scorer([{'plan': 'basic'}])[0])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'skops', 'mlflow'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0].startswith("treelite 0.")
    assert out[1] == "[]"

"""The scorer compiled at registration travels with a version's model files: every model kind
gets one, a server loads it without compiling (or loading the pipeline), and one that is stale,
corrupt or missing makes the server compile at load, saying why."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pytest
from mlflow import MlflowClient

from registry.client import fluent_tracking
from serving import model_files_cache, scorer_files
from serving.model_files_cache import ModelFilesCache
from serving.scorer_files import ARTIFACT_DIR, STATE_FILE
from tests.unit.test_serving_scorer_files import KINDS, fitted, save_model
from tests.unit.test_serving_scorer_files import data as data  # the fixture
from training.models import SKOPS_TRUSTED_TYPES
from training.run_logging import model_requirements
from training.scorer_artifact import log_compiled_scorer

FAST_PATHS = {"treelite", "numpy-linear", "numpy-constant", "numpy-one-rule"}


@pytest.fixture(scope="module")
def registry(data: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[MlflowClient, Any]:
    """Every kind fitted, logged as training logs it, registered (one model per kind) and given
    its compiled scorer by `log_compiled_scorer`, on a real MLflow (SQLite, local artifacts)."""
    root = tmp_path_factory.mktemp("mlflow")
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.create_experiment("kinds", artifact_location=(root / "art").as_uri())
    pipelines = {}
    with fluent_tracking(client.tracking_uri):
        for task, kind in KINDS:
            name = f"{task}-{kind}"
            pipelines[name] = pipeline = fitted(data, task, kind)
            with mlflow.start_run(experiment_id=experiment):
                info = mlflow.sklearn.log_model(
                    pipeline,
                    name="model",
                    skops_trusted_types=SKOPS_TRUSTED_TYPES,
                    pip_requirements=model_requirements(),
                )
            version = mlflow.register_model(info.model_uri, name)
            assert log_compiled_scorer(client, name, str(version.version), pipeline)
    return client, pipelines


def no_compiling(*_: Any, **__: Any) -> Any:
    raise AssertionError("compiled at load")


@pytest.mark.parametrize(("task", "kind"), KINDS)
def test_a_registered_version_of_every_kind_serves_its_registered_scorer_without_compiling(
    registry: Any,
    data: Any,
    task: str,
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, pipelines = registry
    name = f"{task}-{kind}"
    monkeypatch.setattr(model_files_cache, "choose_scorer", no_compiling)
    files = ModelFilesCache(tmp_path / "cache", name)
    with caplog.at_level(logging.INFO, logger="serving.model_files_cache"):
        model = files.download(client, client.get_model_version(name, "1"))

    assert (files.version_dir("1") / ARTIFACT_DIR / STATE_FILE).exists()
    assert f"model {name} v1: scorer compiled at registration" in caplog.text
    assert model.scorer.path in FAST_PATHS
    assert not model.source.loaded and not files.scorer_dir("1").exists()
    _, _, _, rows, frame = data
    pipeline = pipelines[name]
    columns = list(pipeline.feature_names_in_)
    frame = frame[columns].astype({c: float for c in columns if c not in ("plan", "region")})
    truth = pipeline.predict_proba(frame)[:, 1] if task == "binary" else pipeline.predict(frame)
    np.testing.assert_allclose(model.scorer.scorer(rows), truth, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def gradient_boosting_files(data: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gradient-boosting version's model files with its registered scorer."""
    pipeline = fitted(data, "binary", "gradient_boosting")
    directory = tmp_path_factory.mktemp("version") / "4"
    save_model(pipeline, directory)
    columns = list(pipeline.feature_names_in_)
    choice = model_files_cache.choose_scorer(pipeline, columns)
    assert scorer_files.save(directory / ARTIFACT_DIR, choice, columns)
    return directory


def stale_libraries(state: Path) -> str:
    body = json.loads(state.read_text())
    body["libraries"]["treelite"] = "0.0.1"
    state.write_text(json.dumps(body))
    return "libraries"


def torn(state: Path) -> str:
    state.write_text('{"format": 1, "pa')
    return "unreadable"


def wrong_answers(state: Path) -> str:
    body = json.loads(state.read_text())
    body["expected"] = [v + 1e-3 for v in body["expected"]]
    state.write_text(json.dumps(body))
    return "probe rows"


def missing(state: Path) -> str:
    state.parent.joinpath("trees.bin").unlink()
    state.unlink()
    state.parent.rmdir()
    return "no compiled scorer registered"


@pytest.mark.parametrize("spoil", [stale_libraries, torn, wrong_answers, missing])
def test_a_stale_corrupt_or_missing_registered_scorer_is_compiled_at_load_saying_why(
    gradient_boosting_files: Path, tmp_path: Path, spoil: Any, caplog: pytest.LogCaptureFixture
) -> None:
    files = ModelFilesCache(tmp_path / "cache", "churn")
    shutil.copytree(gradient_boosting_files, files.version_dir("4"))
    state = files.version_dir("4") / ARTIFACT_DIR / STATE_FILE
    why = spoil(state)
    with caplog.at_level(logging.INFO, logger="serving"):
        model = files._open("4", run_id="r4", tags={}, alias=None)
    assert why in caplog.text and "compiling at load" in caplog.text
    assert model.scorer.path == "treelite" and model.source.loaded  # compiled from the pipeline
    assert files.scorer_dir("4").exists()  # kept for the next load

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="serving"):
        again = files._open("4", run_id="r4", tags={}, alias=None)
    assert not again.source.loaded and "compiling at load" not in caplog.text


def test_an_artifact_store_that_refuses_the_scorer_leaves_training_going(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The version is registered already: a failed upload is a warning (a server compiles at
    load), not a training run failing after registration."""
    import pandas as pd
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    class RefusingClient:
        def get_model_version_download_uri(self, name: str, version: str) -> str:
            raise OSError("artifact store is read-only")

    pipeline = Pipeline([("model", DummyClassifier(strategy="prior"))])
    pipeline.fit(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), [0, 1, 0, 0])
    with caplog.at_level(logging.WARNING, logger="training.scorer_artifact"):
        assert log_compiled_scorer(RefusingClient(), "m", "3", pipeline) is False  # type: ignore[arg-type]
    assert "model m v3: compiled scorer not logged (OSError: artifact store is read-only)" in (
        caplog.text
    )

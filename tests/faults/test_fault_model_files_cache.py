"""The on-disk model cache gives back exactly what was served: the pipeline, its version, run,
threshold tag and expectations; a damaged pointer is ignored, never half-read."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from monitoring.validation import CategoricalExpectation, Expectations, NumericExpectation
from registry.models import LoadedModel
from serving.model_files_cache import ModelFilesCache, cache_root

EXPECTATIONS = Expectations(
    numeric=(NumericExpectation("logins_7d", -math.inf, 40.0, False, 0.0),),
    categorical=(
        CategoricalExpectation("plan", frozenset({"basic", "pro"}), True, 0.01),
        CategoricalExpectation("region", None, False, 0.0),
    ),
    null_tolerance=0.05,
)


def test_cached_champion_comes_back_with_its_version_threshold_and_expectations(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame({"logins_7d": [0.0, 1.0, 5.0, 9.0], "tenure": [1.0, 3.0, 2.0, 8.0]})
    pipeline = Pipeline([("model", LogisticRegression())]).fit(frame, [1, 1, 0, 0])
    files = ModelFilesCache(cache_root(tmp_path / "home"), "churn")
    mlflow.sklearn.save_model(pipeline, str(files.version_dir("3")))
    served = LoadedModel(
        name="churn",
        version="3",
        alias="champion",
        run_id="run-3",
        source=pipeline,
        feature_columns=["logins_7d", "tenure"],
        tags={"keel.threshold": "0.3"},
    )
    files.remember("champion", served, EXPECTATIONS)

    cached = files.recall("champion")
    assert cached is not None
    model = cached.model
    assert (model.name, model.version, model.alias, model.run_id) == (
        "churn",
        "3",
        "champion",
        "run-3",
    )
    assert model.tags == {"keel.threshold": "0.3"}
    assert model.feature_columns == ["logins_7d", "tenure"]
    assert cached.expectations == EXPECTATIONS
    assert np.allclose(model.pipeline.predict_proba(frame), pipeline.predict_proba(frame))
    assert files.recall("challenger") is None

    files.pointer("champion").write_text('{"version": "3", "run_')  # torn by hand
    assert files.recall("champion") is None

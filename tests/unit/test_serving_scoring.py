"""The compiled linear scorer is the pipeline's own arithmetic; thresholds come from tags.

Every other model kind: test_serving_fast_scoring.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from serving_fakes import FEATURES, loaded_model, training_frame
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from registry.models import LoadedModel
from serving.model_cache import threshold_of
from serving.predictor import challenger_bucket
from serving.scoring import (
    LinearScorer,
    choose_scorer,
    compile_linear,
    make_scorer,
    pipeline_scorer,
)
from training.models import baseline, tree_preprocess


def test_compiled_linear_scorer_equals_predict_proba_including_missing_and_unseen_values() -> None:
    model = loaded_model("1")
    frame, _ = training_frame(n=200, seed=9)
    rows = frame.to_dict("records")
    rows += [
        {"plan": None, "logins_7d": None, "spend_30d": None},
        {"plan": "platinum", "logins_7d": 3.0, "spend_30d": float("nan")},
        {"logins_7d": 2},
    ]
    compiled = compile_linear(model.pipeline)
    assert isinstance(compiled, LinearScorer)
    expected = pipeline_scorer(model.pipeline, FEATURES)(rows)
    np.testing.assert_allclose(compiled(rows), expected, rtol=1e-12, atol=1e-15)


def test_pipelines_of_another_shape_are_scored_through_predict_proba() -> None:
    frame, label = training_frame()
    forest = Pipeline(
        [
            ("preprocess", tree_preprocess(FEATURES, ["plan"])),
            ("classifier", RandomForestClassifier(n_estimators=5, random_state=0)),
        ]
    ).fit(frame, label)
    assert compile_linear(forest) is None
    choice = choose_scorer(forest, FEATURES)
    assert choice.describe() == "sklearn (no fast path for this pipeline)"
    rows = [{"plan": "basic", "logins_7d": 3.0, "spend_30d": 1.0}, {"plan": "premium"}]
    expected = forest.predict_proba(pd.DataFrame(rows, columns=FEATURES))[:, 1]
    np.testing.assert_array_equal(choice.scorer(rows), expected)
    prior = baseline().fit(frame, label)
    assert make_scorer(prior, FEATURES)([{"plan": "basic"}])[0] == pytest.approx(label.mean())


@pytest.mark.parametrize(
    ("tag", "expected"), [(None, 0.5), ("0.2", 0.2), ("oops", 0.5), ("1.5", 0.5)]
)
def test_threshold_comes_from_the_version_tag_with_a_safe_default(
    tag: str | None, expected: float
) -> None:
    model: LoadedModel = loaded_model("1", threshold=tag)
    assert threshold_of(model) == expected


def test_challenger_assignment_is_sticky_and_close_to_the_share() -> None:
    chosen = [c for c in range(1, 20_001) if challenger_bucket(c, 0.2)]
    assert 0.18 < len(chosen) / 20_000 < 0.22
    assert chosen == [c for c in range(1, 20_001) if challenger_bucket(c, 0.2)]
    assert not any(challenger_bucket(c, 0.0) for c in range(1, 1000))
    assert all(challenger_bucket(c, 1.0) for c in range(1, 1000))

"""In-memory stand-ins for the serving runtime: a fitted pipeline, features, a model cache."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from keel.core.settings import Settings
from registry.models import LoadedModel
from serving.keyed_bodies import keyed_bodies
from serving.log_sqlite import SqlitePredictionLog
from serving.metrics import Metrics
from serving.model_cache import ModelSet, ServedModel
from serving.predictor import Predictor
from serving.runtime import Runtime
from training.models import logistic_regression

FEATURES = ["plan", "logins_7d", "spend_30d"]
KEY = "customer_id"
"""The built-in example's join key, which these fakes stand in for."""
_BODIES = keyed_bodies(Settings.model_construct().keyed_route)
PredictResponse = _BODIES.answer
BatchPredictResponse = _BODIES.batch
"""The built-in example's `/v1/predict` answers, as the app builds them from the settings."""


def training_frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "logins_7d": rng.integers(0, 30, n).astype(float),
            "spend_30d": rng.gamma(2.0, 10.0, n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "spend_30d"] = np.nan
    risk = -1.0 - 0.15 * frame["logins_7d"] + (frame["plan"] == "basic") * 1.5
    label = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(int)
    return frame, label


def loaded_model(version: str, *, threshold: str | None = None) -> LoadedModel:
    frame, label = training_frame(seed=int(version))
    pipeline = logistic_regression(FEATURES, categorical=["plan"]).fit(frame, label)
    tags = {"keel.threshold": threshold} if threshold is not None else {}
    return LoadedModel("churn", version, None, f"run-{version}", pipeline, FEATURES, tags)


class FakeFeatures:
    """Known customers are 1..1000; customer 13 has no logins feature."""

    def __init__(self) -> None:
        self.service = "churn_v1"
        self.join_keys = [KEY]
        self.request_fields = ["as_of_unix"]
        self.stored_features = FEATURES

    def get_rows(
        self, entities: Sequence[Mapping[str, Any]], *, as_of_unix: int | None = None
    ) -> list[dict[str, Any] | None]:
        return [
            None
            if c > 1000
            else {
                "plan": ["basic", "standard", "premium"][c % 3],
                "logins_7d": None if c == 13 else c % 30,
                "spend_30d": float(c % 50),
            }
            for c in (int(entity[KEY]) for entity in entities)
        ]


class FakeModels:
    name = "churn"

    def __init__(self, champion: LoadedModel, challenger: LoadedModel | None = None) -> None:
        self.set(champion, challenger)
        self.refreshes = 0

    def set(self, champion: LoadedModel, challenger: LoadedModel | None = None) -> None:
        from dataclasses import replace

        self.current = ModelSet(
            ServedModel.of(replace(champion, alias="champion")),
            ServedModel.of(replace(challenger, alias="challenger")) if challenger else None,
        )

    def refresh(self) -> bool:
        self.refreshes += 1
        return False


def fake_runtime(
    settings: Settings, models: FakeModels, tmp_path: Path, metrics: Metrics
) -> Runtime:
    predictor = Predictor(
        models,  # type: ignore[arg-type]
        FakeFeatures(),
        code_commit="test",
        challenger_share=settings.challenger_share,
        shadow=settings.shadow,
        entity_noun=settings.keyed_route.noun,
    )
    log = SqlitePredictionLog(tmp_path / "predictions.db")
    return Runtime(settings, None, predictor, log, metrics)  # type: ignore[arg-type]

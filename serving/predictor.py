"""The hot path: online features -> champion pipeline -> durable log record -> answer."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from registry.models import LoadedModel
from serving.ids import new_prediction_id
from serving.online_features import OnlineFeatures
from serving.prediction_log import PredictionLog, PredictionRecord


def _plain(value: Any) -> Any:
    """JSON-safe feature values for the log (NaN becomes null)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class Predictor:
    """Scores customers with one loaded model and logs every answer before returning it."""

    def __init__(
        self, model: LoadedModel, features: OnlineFeatures, log: PredictionLog, *, code_commit: str
    ) -> None:
        self.model = model
        self._features = features
        self._log = log
        self._code_commit = code_commit

    def predict(self, customer_id: int, *, request_id: str | None = None) -> PredictionRecord:
        values = self._features.get(customer_id)
        row = pd.DataFrame([{name: values.get(name) for name in self.model.feature_columns}])
        probability = float(self.model.pipeline.predict_proba(row)[0, 1])
        record = PredictionRecord(
            prediction_id=new_prediction_id(),
            created_at=datetime.now(UTC).isoformat(),
            customer_id=customer_id,
            churn_probability=probability,
            model_name=self.model.name,
            model_version=self.model.version,
            model_alias=self.model.alias,
            run_id=self.model.run_id,
            code_commit=self._code_commit,
            request_id=request_id,
            features={name: _plain(v) for name, v in values.items()},
        )
        self._log.append(record)
        return record

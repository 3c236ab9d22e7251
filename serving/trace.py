"""Trace one prediction back to everything that made it: the logged record (entity, task,
features, score and label or prediction, serving code commit), its feedback, and the model
version's lineage (MLflow run, training dataset digest, feature service and definitions hash,
the model's code commit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keel.core.errors import KeelError, NotFound
from keel.core.settings import Settings
from registry.lineage import Lineage, version_lineage
from registry.refs import ModelRef, parse_version
from serving.prediction_log import Feedback, PredictionLog, PredictionRecord


@dataclass(frozen=True)
class PredictionTrace:
    record: PredictionRecord
    feedback: Feedback | None
    lineage: Lineage | None
    lineage_error: str | None = None
    """Why the lineage is missing (for example the version was deleted from the registry)."""

    def as_dict(self) -> dict[str, Any]:
        record = self.record
        lineage = self.lineage
        return {
            "prediction_id": record.prediction_id,
            "created_at": record.created_at.isoformat(),
            "entity": record.entity,
            "model": {
                "name": record.model_name,
                "version": record.model_version,
                "alias": record.model_alias,
                "served_by": record.served_by,
            },
            "run_id": record.run_id,
            "training_run_id": lineage.training_run_id if lineage else None,
            "datasets": [
                {"name": d.name, "digest": d.digest, "context": d.context, "rows": d.rows}
                for d in (lineage.datasets if lineage else [])
            ],
            "feature_service": lineage.feature_service if lineage else None,
            "feature_definitions_hash": lineage.feature_definitions_hash if lineage else None,
            "serving_code_commit": record.code_commit,
            "model_code_commit": lineage.code_commit if lineage else None,
            "request_id": record.request_id,
            "features": record.features,
            "violations": record.violations,
            "task": record.task,
            "score": record.score,
            "label": record.label,
            "feedback": (
                {
                    "outcome": self.feedback.outcome,
                    "observed_at": self.feedback.observed_at.isoformat(),
                }
                if self.feedback
                else None
            ),
            "lineage_error": self.lineage_error,
        }


def trace_prediction(settings: Settings, log: PredictionLog, prediction_id: str) -> PredictionTrace:
    """The trace of `prediction_id`; `NotFound` naming the id when the log does not hold it."""
    record = log.get(prediction_id.strip())
    if record is None:
        raise NotFound(
            f"prediction {prediction_id!r} is not in the prediction log "
            "(see `keel predictions export` for the ids it holds)"
        )
    ref = ModelRef(
        name=record.model_name, version=parse_version(record.model_name, record.model_version)
    )
    try:
        lineage: Lineage | None = version_lineage(settings, ref)
        error = None
    except KeelError as failure:  # the record still traces to its run id and features
        lineage, error = None, failure.message
    return PredictionTrace(record, log.feedback(record.prediction_id), lineage, error)

"""Where a model version came from: its runs, training data, feature definitions, code, gate.

`feature_definitions_hash` fingerprints what a feature service *means* (views, entities, feature
names and types, time-to-live, on-demand transformation code), not where its files happen to
live, so the same definitions hash the same in every workspace and process. Training tags each
version with it (`keel.feature_definitions_hash`); lineage recomputes it from the Feast registry
to show whether the definitions changed since.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from feast import FeatureStore, FeatureView, OnDemandFeatureView
from feast.errors import FeastObjectNotFoundException, FeatureViewNotFoundException
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from keel.core.errors import ModelNotFound
from keel.core.settings import Settings
from registry.aliases import GATE_REASON_TAG, GATE_TAG
from registry.catalog import registry_client
from registry.refs import ModelRef, resolve_ref

FEATURE_HASH_TAG = "keel.feature_definitions_hash"
TRAINING_RUN_TAG = "keel.training_run_id"
CODE_COMMIT_TAG = "keel.code_commit"
FEATURE_SERVICE_TAG = "feast.feature_service"
KEEL_FEATURE_SERVICE_TAG = "keel.feature_service"
PARENT_RUN_TAG = "mlflow.parentRunId"
TRAINING_FRAME_ARTIFACT = "datasets/training_frame.parquet"

logger = logging.getLogger(__name__)


def _fields(fields: Any) -> list[list[str]]:
    return sorted([f.name, str(f.dtype)] for f in fields)


def _view_definition(store: FeatureStore, name: str) -> dict[str, Any]:
    try:
        view: FeatureView | OnDemandFeatureView = store.get_feature_view(name)
    except FeatureViewNotFoundException:
        view = store.get_on_demand_feature_view(name)
    if isinstance(view, OnDemandFeatureView):
        return {
            "kind": "on_demand",
            "name": view.name,
            "mode": view.mode,
            "features": _fields(view.features),
            "sources": sorted(view.source_feature_view_projections),
            "request_sources": {
                key: _fields(source.schema) for key, source in view.source_request_sources.items()
            },
            "udf": getattr(view.feature_transformation, "udf_string", ""),
        }
    return {
        "kind": "batch",
        "name": view.name,
        "entities": sorted(view.entities),
        "entity_columns": _fields(view.entity_columns),
        "features": _fields(view.features),
        "ttl_seconds": view.ttl.total_seconds() if view.ttl else None,
        "timestamp_field": view.batch_source.timestamp_field if view.batch_source else None,
        "online": view.online,
    }


def feature_definitions(store: FeatureStore, feature_service: str) -> dict[str, Any]:
    """The canonical, location-free description of a feature service and the views it reads."""
    service = store.get_feature_service(feature_service)
    projections = [
        {
            "view": p.name,
            "as": p.name_to_use(),
            "features": _fields(p.features),
        }
        for p in service.feature_view_projections
    ]
    views = sorted({p.name for p in service.feature_view_projections})
    return {
        "feature_service": service.name,
        "projections": projections,
        "views": [_view_definition(store, name) for name in views],
    }


def feature_definitions_hash(store: FeatureStore, feature_service: str) -> str:
    """`sha256:<hex>` of the feature service's canonical definitions (stable across workspaces)."""
    canonical = json.dumps(
        feature_definitions(store, feature_service), sort_keys=True, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class DatasetLineage:
    """A dataset the training run logged (`mlflow.log_input`) and where its rows are stored."""

    name: str
    digest: str
    source_type: str
    source: str
    context: str | None
    rows: int | None
    artifact_uri: str | None


@dataclass(frozen=True)
class Lineage:
    """Everything needed to trace `name/version` back to its inputs."""

    name: str
    version: int
    model_run_id: str | None
    training_run_id: str | None
    experiment_id: str | None
    source: str
    datasets: list[DatasetLineage]
    feature_service: str | None
    feature_definitions_hash: str | None
    current_definitions_hash: str | None
    code_commit: str | None
    training_params: dict[str, str] = field(default_factory=dict)
    model_params: dict[str, str] = field(default_factory=dict)
    gate: str | None = None
    gate_reason: str | None = None

    @property
    def definitions_changed(self) -> bool | None:
        """True if Feast's definitions differ from those the version was trained on."""
        if self.feature_definitions_hash is None or self.current_definitions_hash is None:
            return None
        return self.feature_definitions_hash != self.current_definitions_hash

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["datasets"] = [d.__dict__ for d in self.datasets]
        out["definitions_changed"] = self.definitions_changed
        return out


def version_feature_service(version: ModelVersion) -> str | None:
    """The feature service a version was trained on, from Feast's or Keel's version tag."""
    tags = version.tags or {}
    return tags.get(FEATURE_SERVICE_TAG) or tags.get(KEEL_FEATURE_SERVICE_TAG)


def _run(client: MlflowClient, run_id: str | None) -> Run | None:
    if not run_id:
        return None
    try:
        return client.get_run(run_id)
    except MlflowException:
        return None


def _datasets(client: MlflowClient, run: Run) -> list[DatasetLineage]:
    frame_uri = None
    try:
        names = {a.path for a in client.list_artifacts(run.info.run_id, "datasets")}
    except (MlflowException, OSError):
        names = set()
    if TRAINING_FRAME_ARTIFACT in names:
        frame_uri = f"{run.info.artifact_uri}/{TRAINING_FRAME_ARTIFACT}"
    out = []
    for item in run.inputs.dataset_inputs if run.inputs else []:
        dataset = item.dataset
        tags = {t.key: t.value for t in item.tags}
        profile = json.loads(dataset.profile) if dataset.profile else {}
        out.append(
            DatasetLineage(
                name=dataset.name,
                digest=dataset.digest,
                source_type=dataset.source_type,
                source=dataset.source,
                context=tags.get("mlflow.data.context"),
                rows=profile.get("num_rows"),
                artifact_uri=frame_uri,
            )
        )
    return out


def _current_hash(settings: Settings, feature_service: str | None) -> str | None:
    if not feature_service:
        return None
    from keel.feast_plumbing.feature_store import open_store

    try:
        return feature_definitions_hash(open_store(settings), feature_service)
    except (FeastObjectNotFoundException, OSError, SQLAlchemyError) as error:
        # Lineage still answers without a Feast registry; it just cannot compare definitions.
        logger.warning("feature definitions of %s unavailable: %s", feature_service, error)
        return None


def version_lineage(settings: Settings, ref: ModelRef) -> Lineage:
    """The lineage of the version `ref` names, from MLflow's runs, datasets and tags."""
    client = registry_client(settings)
    version = resolve_ref(client, ref)
    tags = dict(version.tags or {})
    model_run = _run(client, version.run_id)
    run_tags = model_run.data.tags if model_run else {}
    training_run_id = tags.get(TRAINING_RUN_TAG) or run_tags.get(PARENT_RUN_TAG) or version.run_id
    training_run = _run(client, training_run_id)
    if training_run is None and version.run_id:
        raise ModelNotFound(f"training run {training_run_id} of {ref} not found")
    feature_service = version_feature_service(version) or run_tags.get(FEATURE_SERVICE_TAG)
    return Lineage(
        name=version.name,
        version=int(version.version),
        model_run_id=version.run_id,
        training_run_id=training_run_id,
        experiment_id=training_run.info.experiment_id if training_run else None,
        source=str(version.source),
        datasets=_datasets(client, training_run) if training_run else [],
        feature_service=feature_service,
        feature_definitions_hash=tags.get(FEATURE_HASH_TAG),
        current_definitions_hash=_current_hash(settings, feature_service),
        code_commit=tags.get(CODE_COMMIT_TAG) or run_tags.get(CODE_COMMIT_TAG),
        training_params=dict(training_run.data.params) if training_run else {},
        model_params=dict(model_run.data.params) if model_run else {},
        gate=tags.get(GATE_TAG),
        gate_reason=tags.get(GATE_REASON_TAG),
    )

"""Registered model versions: resolve an alias, load the version's pipeline, move aliases."""

from __future__ import annotations

from dataclasses import dataclass, field

import mlflow.artifacts
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from sklearn.pipeline import Pipeline

from keel.errors import ModelNotFound

CHAMPION = "champion"


@dataclass(frozen=True)
class LoadedModel:
    """A registered version in memory, with what a prediction log needs to name it."""

    name: str
    version: str
    alias: str | None
    run_id: str
    pipeline: Pipeline
    feature_columns: list[str]
    tags: dict[str, str] = field(default_factory=dict)


def resolve_version(client: MlflowClient, name: str, alias: str) -> ModelVersion:
    """The version `name@alias` points to; `ModelNotFound` names what is missing."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        raise ModelNotFound(
            f"model {name}@{alias} not found: train one with `keel train` ({error.error_code})"
        ) from error


def load_version(client: MlflowClient, version: ModelVersion, *, alias: str | None) -> LoadedModel:
    """Download (or open in place) the version's artifacts and load its sklearn pipeline."""
    uri = client.get_model_version_download_uri(version.name, version.version)
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=client.tracking_uri)
    pipeline = mlflow.sklearn.load_model(local)
    columns = [str(c) for c in getattr(pipeline, "feature_names_in_", [])]
    return LoadedModel(
        name=version.name,
        version=str(version.version),
        alias=alias,
        run_id=str(version.run_id),
        pipeline=pipeline,
        feature_columns=columns,
        tags=dict(version.tags or {}),
    )


def load_alias(client: MlflowClient, name: str, alias: str = CHAMPION) -> LoadedModel:
    """Load the version that `name@alias` points to now."""
    return load_version(client, resolve_version(client, name, alias), alias=alias)

"""An `MlflowClient` on the workspace's backend, and the experiment Keel logs into."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.backends import is_tracking_server, mlflow_tracking_uri
from keel.settings import Settings
from keel.workspace import Workspace

if TYPE_CHECKING:
    from mlflow import MlflowClient


def mlflow_client(settings: Settings) -> MlflowClient:
    """A client whose tracking and registry URIs are the profile's (no global MLflow state)."""
    from mlflow import MlflowClient

    uri = mlflow_tracking_uri(settings)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_name(settings: Settings) -> str:
    return f"{settings.project}-{settings.model_name}"


def ensure_experiment(settings: Settings, client: MlflowClient, name: str | None = None) -> str:
    """The id of experiment `name` (default: the model's), created with its artifacts inside
    the workspace if it is new.

    MLflow would otherwise put artifacts in `./mlruns` under whatever the current directory is.
    A tracking server picks the location itself (its proxied `mlflow-artifacts:/` store), so
    artifacts travel through the server instead of landing on the client's disk.
    """
    name = name or experiment_name(settings)
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    if is_tracking_server(mlflow_tracking_uri(settings)):
        return str(client.create_experiment(name))
    location = Workspace.from_settings(settings).ensure().artifacts_dir.as_uri()
    return str(client.create_experiment(name, artifact_location=location))

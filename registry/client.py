"""An `MlflowClient` on the workspace's backend, and the experiment Keel logs into."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from keel.core.backends import is_tracking_server, mlflow_tracking_uri
from keel.core.settings import Settings
from keel.core.workspace import Workspace

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


_FLUENT_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")


@contextmanager
def fluent_tracking(uri: str) -> Iterator[None]:
    """MLflow's fluent API (`mlflow.start_run`, `log_metric`, ...) pointed at `uri` inside the
    block, and MLflow's process-wide state put back as it was when the block exits.

    `mlflow.set_tracking_uri` and `set_experiment` set module globals and the environment
    variables child processes inherit; Feast's `store.mlflow.start_run` calls the first. Left
    behind, a long-lived process (a notebook, the test suite, the demo's server) would keep
    writing to a workspace that training happened to use. MLflow offers no public way to unset
    them, hence the two private module attributes.
    """
    import mlflow
    from mlflow.tracking import _tracking_service, fluent

    utils = _tracking_service.utils
    saved_uri = utils._tracking_uri
    saved_experiment = fluent._active_experiment_id
    saved_env = {name: os.environ.get(name) for name in _FLUENT_ENV}
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved_uri)  # type: ignore[arg-type]  # None unsets it
        fluent._active_experiment_id = saved_experiment
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

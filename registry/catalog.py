"""What the registry holds: models, their versions, aliases, headline metrics and gate decisions.

Read-only views for `keel models list` and `keel models show`; headline metrics come from each
version's run (the `test_*` metrics training logs on the test snapshot). When Keel can open
MLflow's database (local and production profiles, or a tracking server with
`KEEL_MLFLOW_BACKEND_STORE_URI`), they are read there without importing MLflow
(`registry.registry_reads`); only a tracking server whose database is hidden goes through
`MlflowClient`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.core.backends import is_tracking_server, mlflow_tracking_uri
from keel.core.errors import WorkspaceNotReady
from keel.core.settings import Settings
from registry.database import connect_check, is_database_uri, registry_database_url
from registry.refs import ModelRef
from registry.registry_reads import (
    GATE_REASON_TAG,
    GATE_TAG,
    HEADLINE_METRICS,
    ModelSummary,
    VersionSummary,
    millis_to_utc,
    read_model,
    read_models,
    read_version,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel

__all__ = [
    "HEADLINE_METRICS",
    "ModelSummary",
    "VersionSummary",
    "list_models",
    "registry_client",
    "show_model",
    "show_version",
]


def registry_client(settings: Settings) -> MlflowClient:
    """An MLflow client after checking its database answers (MLflow itself retries for minutes)."""
    from registry.client import mlflow_client

    if is_database_uri(mlflow_tracking_uri(settings)):
        connect_check(registry_database_url(settings))
    return mlflow_client(settings)


def _reads_database(settings: Settings) -> bool:
    """True when the registry's database is Keel's to read (everything but a bare server)."""
    return not is_tracking_server(mlflow_tracking_uri(settings)) or bool(
        settings.mlflow_backend_store_uri
    )


def list_models(settings: Settings) -> list[ModelSummary]:
    """Every registered model with its versions, by name."""
    if _reads_database(settings):
        try:
            return read_models(settings)
        except WorkspaceNotReady:  # no MLflow database yet: nothing registered
            return []
    client = registry_client(settings)
    models = client.search_registered_models(order_by=["name ASC"])
    return [_summarize_model(client, m) for m in models]


def show_model(settings: Settings, name: str) -> ModelSummary:
    """One registered model with its versions; `ModelNotFound` if it does not exist."""
    if _reads_database(settings):
        return read_model(settings, name)
    from registry.refs import get_registered_model

    client = registry_client(settings)
    return _summarize_model(client, get_registered_model(client, name))


def show_version(settings: Settings, ref: ModelRef) -> VersionSummary:
    """The version `name/N` or `name@alias` names (a bare name: its highest version)."""
    if _reads_database(settings):
        return read_version(settings, ref)
    from registry.refs import resolve_ref

    client = registry_client(settings)
    version = resolve_ref(client, ref)
    model = client.get_registered_model(ref.name)
    return summarize_version(client, version, {a: int(v) for a, v in model.aliases.items()})


def _headline(client: MlflowClient, run_id: str | None) -> dict[str, float]:
    from mlflow.exceptions import MlflowException

    if not run_id:
        return {}
    try:
        metrics = client.get_run(run_id).data.metrics
    except MlflowException:
        return {}
    return {m: metrics[f"test_{m}"] for m in HEADLINE_METRICS if f"test_{m}" in metrics}


def summarize_version(
    client: MlflowClient, version: ModelVersion, aliases: dict[str, int]
) -> VersionSummary:
    """The version with its aliases (from the model's alias map) and its run's test metrics."""
    number = int(version.version)
    tags = dict(version.tags or {})
    return VersionSummary(
        name=version.name,
        version=number,
        aliases=sorted(a for a, v in aliases.items() if int(v) == number),
        created_at=millis_to_utc(version.creation_timestamp),
        run_id=version.run_id,
        source=str(version.source),
        status=str(version.status),
        gate=tags.get(GATE_TAG),
        gate_reason=tags.get(GATE_REASON_TAG),
        metrics=_headline(client, version.run_id),
        tags=tags,
    )


def _summarize_model(client: MlflowClient, model: RegisteredModel) -> ModelSummary:
    aliases = {a: int(v) for a, v in (model.aliases or {}).items()}
    versions = client.search_model_versions(f"name = '{model.name}'")
    return ModelSummary(
        name=model.name,
        description=model.description or "",
        aliases=aliases,
        versions=[
            summarize_version(client, v, aliases)
            for v in sorted(versions, key=lambda v: int(v.version), reverse=True)
        ],
    )

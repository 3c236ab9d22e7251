"""What the registry holds: models, their versions, aliases, headline metrics and gate decisions.

Read-only views over MLflow's registry for `keel models list` and `keel models show`; headline
metrics come from each version's run (the `test_*` metrics training logs on the test snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException

from keel.backends import mlflow_tracking_uri
from keel.settings import Settings
from registry.aliases import GATE_REASON_TAG, GATE_TAG
from registry.client import mlflow_client
from registry.database import connect_check, is_database_uri, registry_database_url
from registry.refs import ModelRef, get_registered_model, resolve_ref

HEADLINE_METRICS = ("pr_auc", "roc_auc", "brier", "log_loss")


@dataclass(frozen=True)
class VersionSummary:
    """One registered version: where it came from, how it scored, whether it passed its gate."""

    name: str
    version: int
    aliases: list[str]
    created_at: datetime
    run_id: str | None
    source: str
    status: str
    gate: str | None
    gate_reason: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 UTC)."""
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class ModelSummary:
    """A registered model with its aliases and every version, newest first."""

    name: str
    description: str
    aliases: dict[str, int]
    versions: list[VersionSummary]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "aliases": self.aliases,
            "versions": [v.as_dict() for v in self.versions],
        }


def registry_client(settings: Settings) -> MlflowClient:
    """An MLflow client after checking its database answers (MLflow itself retries for minutes)."""
    if is_database_uri(mlflow_tracking_uri(settings)):
        connect_check(registry_database_url(settings))
    return mlflow_client(settings)


def _millis(value: int | None) -> datetime:
    return datetime.fromtimestamp((value or 0) / 1000, tz=UTC)


def _headline(client: MlflowClient, run_id: str | None) -> dict[str, float]:
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
        created_at=_millis(version.creation_timestamp),
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


def list_models(settings: Settings) -> list[ModelSummary]:
    """Every registered model with its versions, by name."""
    client = registry_client(settings)
    models = client.search_registered_models(order_by=["name ASC"])
    return [_summarize_model(client, m) for m in models]


def show_model(settings: Settings, name: str) -> ModelSummary:
    """One registered model with its versions; `ModelNotFound` if it does not exist."""
    client = registry_client(settings)
    return _summarize_model(client, get_registered_model(client, name))


def show_version(settings: Settings, ref: ModelRef) -> VersionSummary:
    """The version `name/N` or `name@alias` names (a bare name: its highest version)."""
    client = registry_client(settings)
    version = resolve_ref(client, ref)
    model = client.get_registered_model(ref.name)
    return summarize_version(client, version, {a: int(v) for a, v in model.aliases.items()})

"""Model references as users type them (`eta`, `eta/7`, `eta@champion`) and their lookup.

Every lookup failure is a one-line `ModelNotFound` naming the model, version or alias that is
missing, and what exists instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from keel.core.errors import BackendUnavailable, ModelNotFound

if TYPE_CHECKING:  # importing mlflow takes seconds: `parse_ref` serves quick commands
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel
    from mlflow.exceptions import MlflowException

NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"


@dataclass(frozen=True)
class ModelRef:
    """A registered model, optionally narrowed to one version or one alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def parse_version(name: str, version: str | int) -> int:
    """A version number from user input, or ValueError naming what was given."""
    try:
        number = int(str(version).strip())
    except ValueError:
        raise ValueError(f"version of {name} must be a number, got {version!r}") from None
    if number < 1:
        raise ValueError(f"version of {name} must be >= 1, got {number}")
    return number


def parse_ref(text: str) -> ModelRef:
    """`eta`, `eta/7` or `eta@champion` as a `ModelRef`; ValueError for anything else."""
    text = text.strip()
    if "@" in text:
        name, _, alias = text.partition("@")
        if not name or not alias:
            raise ValueError(f"expected name@alias, got {text!r}")
        return ModelRef(name=name, alias=alias)
    if "/" in text:
        name, _, version = text.partition("/")
        if not name or not version:
            raise ValueError(f"expected name/version, got {text!r}")
        return ModelRef(name=name, version=parse_version(name, version))
    if not text:
        raise ValueError("expected a model name, name/version or name@alias, got ''")
    return ModelRef(name=text)


def raise_if_unavailable(error: MlflowException, what: str) -> None:
    """`BackendUnavailable` when MLflow failed for a reason other than "not found" and its
    store is down (so an outage is never reported as a missing model)."""
    if error.error_code == NOT_FOUND:
        return
    cause: BaseException | None = error
    while cause is not None:
        if type(cause).__name__ in {"OperationalError", "ConnectionError", "InterfaceError"}:
            break
        cause = cause.__cause__ or cause.__context__
    if cause is None and error.error_code != "TEMPORARILY_UNAVAILABLE":
        return
    first = str(error.message).strip().splitlines()[0] if str(error.message).strip() else ""
    raise BackendUnavailable(
        f"MLflow's registry is unavailable ({what}): {first[:200]}; retry when it is back"
    ) from error


def get_registered_model(client: MlflowClient, name: str) -> RegisteredModel:
    """The registered model `name`; `ModelNotFound` lists the models that do exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException as error:
        raise_if_unavailable(error, f"reading model {name}")
        try:
            found = client.search_registered_models(max_results=20)
        except MlflowException as listing:
            raise_if_unavailable(listing, "listing models")
            raise
        known = sorted(m.name for m in found)
        listed = ", ".join(known) if known else "none yet: run `keel train`"
        raise ModelNotFound(f"model {name} not found (registered models: {listed})") from error


def get_version(client: MlflowClient, name: str, version: int) -> ModelVersion:
    """Version `name/version`; `ModelNotFound` names the model or the version that is missing."""
    from mlflow.exceptions import MlflowException

    model = get_registered_model(client, name)
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as error:
        raise_if_unavailable(error, f"reading {name}/{version}")
        latest = max((int(v.version) for v in model.latest_versions or []), default=0)
        raise ModelNotFound(
            f"model version {name}/{version} not found (latest is {name}/{latest})"
        ) from error


def get_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion:
    """The version `name@alias` points to; `ModelNotFound` lists the aliases that exist."""
    from mlflow.exceptions import MlflowException

    model = get_registered_model(client, name)
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        raise_if_unavailable(error, f"reading {name}@{alias}")
        known = ", ".join(sorted(model.aliases or {})) or "none"
        raise ModelNotFound(f"alias {name}@{alias} not found (aliases: {known})") from error


def resolve_ref(client: MlflowClient, ref: ModelRef) -> ModelVersion:
    """The one version a reference names; a bare name means its highest version."""
    if ref.version is not None:
        return get_version(client, ref.name, ref.version)
    if ref.alias is not None:
        return get_alias(client, ref.name, ref.alias)
    model = get_registered_model(client, ref.name)
    versions = client.search_model_versions(f"name = '{ref.name}'")
    if not versions:
        raise ModelNotFound(f"model {model.name} has no versions")
    return max(versions, key=lambda v: int(v.version))

"""Read-only views of MLflow's model registry straight from its backend database.

`keel models list|show|history` only read: going through `MlflowClient` would cost the ~2 s of
`import mlflow` (it loads pandas, its GenAI stack and more) plus opening its SQLAlchemy store,
for a few rows. These queries read the same tables MLflow's SQLAlchemy store reads
(`registered_models`, `model_versions`, `registered_model_aliases`, `model_version_tags`,
`latest_metrics`), in MLflow's default workspace, on Keel's own engine (`registry.database`),
which alias moves already write through. Soft-deleted versions are skipped, as MLflow does.
Lookup failures are the same one-line `ModelNotFound`s as `registry.refs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import OperationalError

from keel.core.errors import BackendUnavailable, ModelNotFound
from keel.core.settings import Settings
from registry.database import connect_check, registry_database_url
from registry.refs import ModelRef

TASK_METRICS = {
    "binary": ("pr_auc", "roc_auc", "brier", "log_loss"),
    "regression": ("mae", "rmse", "r2"),
}
"""The test metrics `keel models list|show` shows for each task, in column order."""
HEADLINE_METRICS = tuple(m for metrics in TASK_METRICS.values() for m in metrics)
TASK_TAG = "keel.task"
DEFAULT_TASK = "binary"
GATE_TAG = "keel.gate"
GATE_REASON_TAG = "keel.gate_reason"
# MLflow's values (mlflow.utils.workspace_utils, model_version_stages), not imported: see above.
DEFAULT_WORKSPACE = "default"
STAGE_DELETED_INTERNAL = "Deleted_Internal"


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

    @property
    def task(self) -> str:
        """`binary` or `regression`: the version's `keel.task` tag (versions without one are
        binary, as every version was before regression)."""
        return self.tags.get(TASK_TAG) or DEFAULT_TASK

    @property
    def headline_metrics(self) -> tuple[str, ...]:
        """The metric names shown for this version's task."""
        return TASK_METRICS.get(self.task, TASK_METRICS[DEFAULT_TASK])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 UTC)."""
        return {**self.__dict__, "task": self.task, "created_at": self.created_at.isoformat()}


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


def millis_to_utc(value: int | None) -> datetime:
    return datetime.fromtimestamp((value or 0) / 1000, tz=UTC)


class RegistryReader:
    """Queries on one open connection to MLflow's database."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        params = {"workspace": DEFAULT_WORKSPACE, **params}
        return [dict(row) for row in self.connection.execute(text(sql), params).mappings()]

    def model_names(self) -> list[str]:
        rows = self._rows(
            "SELECT name FROM registered_models WHERE workspace = :workspace ORDER BY name"
        )
        return [row["name"] for row in rows]

    def require_model(self, name: str) -> dict[str, Any]:
        """The model's row; `ModelNotFound` lists the models that do exist."""
        rows = self._rows(
            "SELECT name, description FROM registered_models "
            "WHERE workspace = :workspace AND name = :name",
            name=name,
        )
        if rows:
            return rows[0]
        known = self.model_names()[:20]
        listed = ", ".join(known) if known else "none yet: run `keel train`"
        raise ModelNotFound(f"model {name} not found (registered models: {listed})")

    def aliases(self, name: str) -> dict[str, int]:
        rows = self._rows(
            "SELECT alias, version FROM registered_model_aliases "
            "WHERE workspace = :workspace AND name = :name",
            name=name,
        )
        return {row["alias"]: int(row["version"]) for row in rows}

    def versions(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """Live (not soft-deleted) version rows of a model, newest first."""
        sql = (
            "SELECT name, version, creation_time, run_id, source, status FROM model_versions "
            "WHERE workspace = :workspace AND name = :name "
            "AND (current_stage IS NULL OR current_stage != :deleted)"
        )
        params: dict[str, Any] = {"name": name, "deleted": STAGE_DELETED_INTERNAL}
        if version is not None:
            sql += " AND version = :version"
            params["version"] = version
        return self._rows(sql + " ORDER BY version DESC", **params)

    def version_tags(self, name: str, version: int) -> dict[str, str]:
        rows = self._rows(
            'SELECT "key", value FROM model_version_tags '
            "WHERE workspace = :workspace AND name = :name AND version = :version",
            name=name,
            version=version,
        )
        return {row["key"]: row["value"] or "" for row in rows}

    def headline_metrics(self, run_id: str | None) -> dict[str, float]:
        """The run's `test_*` headline metrics (latest value per key, NaN kept as NaN)."""
        if not run_id:
            return {}
        rows = self._rows(
            'SELECT "key", value, is_nan FROM latest_metrics WHERE run_uuid = :run_id',
            run_id=run_id,
        )
        values = {r["key"]: float("nan") if r["is_nan"] else float(r["value"]) for r in rows}
        return {m: values[f"test_{m}"] for m in HEADLINE_METRICS if f"test_{m}" in values}

    def summarize(self, row: dict[str, Any], aliases: dict[str, int]) -> VersionSummary:
        number = int(row["version"])
        tags = self.version_tags(row["name"], number)
        return VersionSummary(
            name=row["name"],
            version=number,
            aliases=sorted(a for a, v in aliases.items() if v == number),
            created_at=millis_to_utc(row["creation_time"]),
            run_id=row["run_id"],
            source=str(row["source"]),
            status=str(row["status"]),
            gate=tags.get(GATE_TAG),
            gate_reason=tags.get(GATE_REASON_TAG),
            metrics=self.headline_metrics(row["run_id"]),
            tags=tags,
        )

    def model(self, name: str) -> ModelSummary:
        found = self.require_model(name)
        aliases = self.aliases(name)
        return ModelSummary(
            name=found["name"],
            description=found["description"] or "",
            aliases=aliases,
            versions=[self.summarize(row, aliases) for row in self.versions(name)],
        )

    def version(self, ref: ModelRef) -> VersionSummary:
        """The version `name/N`, `name@alias` or (a bare name) the highest one names."""
        self.require_model(ref.name)
        aliases = self.aliases(ref.name)
        number = ref.version
        if ref.alias is not None:
            if ref.alias not in aliases:
                known = ", ".join(sorted(aliases)) or "none"
                raise ModelNotFound(f"alias {ref} not found (aliases: {known})")
            number = aliases[ref.alias]
        rows = self.versions(ref.name, number)
        if not rows:
            if number is None:
                raise ModelNotFound(f"model {ref.name} has no versions")
            latest = max((int(r["version"]) for r in self.versions(ref.name)), default=0)
            raise ModelNotFound(
                f"model version {ref.name}/{number} not found (latest is {ref.name}/{latest})"
            )
        return self.summarize(rows[0], aliases)


@contextmanager
def _reader(settings: Settings, what: str) -> Iterator[RegistryReader | None]:
    """A reader on MLflow's database (None before MLflow created its tables); a database that
    fails mid-read is `BackendUnavailable` naming what was being read."""
    engine = connect_check(registry_database_url(settings))
    try:
        with engine.connect() as connection:
            tables = inspect(connection).has_table("registered_models")
            yield RegistryReader(connection) if tables else None
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0]
        raise BackendUnavailable(
            f"could not read {what} from MLflow's database: {reason}"
        ) from error


def _no_model(name: str) -> ModelNotFound:
    return ModelNotFound(f"model {name} not found (registered models: none yet: run `keel train`)")


def read_models(settings: Settings) -> list[ModelSummary]:
    """Every registered model with its versions, by name (none before the first training)."""
    with _reader(settings, "the registered models") as reader:
        return [] if reader is None else [reader.model(n) for n in reader.model_names()]


def read_model(settings: Settings, name: str) -> ModelSummary:
    """One registered model with its versions; `ModelNotFound` if it does not exist."""
    with _reader(settings, f"model {name}") as reader:
        if reader is None:
            raise _no_model(name)
        return reader.model(name)


def read_version(settings: Settings, ref: ModelRef) -> VersionSummary:
    """The version a reference names, with its aliases, tags and test metrics."""
    with _reader(settings, str(ref)) as reader:
        if reader is None:
            raise _no_model(ref.name)
        return reader.version(ref)


def require_model(settings: Settings, name: str) -> None:
    """`ModelNotFound` (listing what exists) unless `name` is a registered model."""
    with _reader(settings, f"model {name}") as reader:
        if reader is None:
            raise _no_model(name)
        reader.require_model(name)


def read_alias_version(settings: Settings, name: str, alias: str) -> VersionSummary | None:
    """The live version `name@alias` points to, with its run, source and tags; None when the
    model, the alias or the version does not exist."""
    with _reader(settings, f"model {name}@{alias}") as reader:
        if reader is None:
            return None
        number = reader.aliases(name).get(alias)
        rows = [] if number is None else reader.versions(name, number)
        return reader.summarize(rows[0], {alias: int(rows[0]["version"])}) if rows else None


def read_download_uri(settings: Settings, name: str, version: str) -> str | None:
    """Where version `version` of `name` keeps its files, as `MlflowClient` answers it (the
    storage location, else the source); None when there is no such version."""
    with _reader(settings, f"model {name}/{version}") as reader:
        if reader is None:
            return None
        rows = reader._rows(
            "SELECT storage_location, source FROM model_versions "
            "WHERE workspace = :workspace AND name = :name AND version = :version",
            name=name,
            version=int(version),
        )
        return str(rows[0]["storage_location"] or rows[0]["source"]) if rows else None


def read_run_artifact_uri(settings: Settings, run_id: str) -> str | None:
    """The root of run `run_id`'s artifacts; None when there is no such run."""
    with _reader(settings, f"run {run_id}") as reader:
        if reader is None:
            return None
        rows = reader._rows("SELECT artifact_uri FROM runs WHERE run_uuid = :run", run=run_id)
        return str(rows[0]["artifact_uri"]) if rows and rows[0]["artifact_uri"] else None

"""Keel's alias-history table, kept in MLflow's own database, and the transaction that moves an
alias and records the move as one unit.

MLflow keeps only where an alias points now (`registered_model_aliases`). Keel adds one table,
`keel_alias_history`, plus `keel_schema_version` so later Keel releases can migrate it. A move
locks the registered model's row (PostgreSQL `SELECT … FOR UPDATE`; SQLite's `BEGIN IMMEDIATE`
write lock), checks the alias still points where the caller saw it (compare-and-set), writes
MLflow's alias row and Keel's history row, and commits both or neither.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from keel.core.backends import redact_url
from keel.core.errors import AliasConflict, BackendUnavailable, ModelNotFound
from registry.database import write_transaction
from registry.registry_reads import DEFAULT_WORKSPACE as DEFAULT_WORKSPACE_NAME
from registry.registry_reads import STAGE_DELETED_INTERNAL

SCHEMA_COMPONENT = "alias_history"
SCHEMA_VERSION = 1
PROMOTE = "promote"
ROLLBACK = "rollback"

keel_metadata = MetaData()

schema_versions = Table(
    "keel_schema_version",
    keel_metadata,
    Column("component", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
)

alias_history_table = Table(
    "keel_alias_history",
    keel_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace", String(63), nullable=False),
    Column("model_name", String(256), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("reason", Text, nullable=False),
    Column("forced", Boolean, nullable=False),
    Column("moved_at", DateTime(timezone=True), nullable=False),
    Index("keel_alias_history_by_alias", "workspace", "model_name", "alias", "id"),
)

# MLflow's tables, declared with only the columns Keel reads or writes (never created by Keel).
_mlflow_metadata = MetaData()
registered_models = Table(
    "registered_models",
    _mlflow_metadata,
    Column("workspace", String(63)),
    Column("name", String(256)),
)
model_versions = Table(
    "model_versions",
    _mlflow_metadata,
    Column("workspace", String(63)),
    Column("name", String(256)),
    Column("version", Integer),
    Column("current_stage", String(20)),
)
model_aliases = Table(
    "registered_model_aliases",
    _mlflow_metadata,
    Column("workspace", String(63)),
    Column("name", String(256)),
    Column("alias", String(256)),
    Column("version", Integer),
)


@dataclass(frozen=True)
class HistoryRecord:
    """One recorded alias move, as stored."""

    id: int
    model_name: str
    alias: str
    from_version: int | None
    to_version: int
    action: str
    actor: str
    reason: str
    forced: bool
    moved_at: datetime


@dataclass(frozen=True)
class MoveRequest:
    """An alias move to commit, with the version the caller saw the alias at (`expected_from`)."""

    model_name: str
    alias: str
    to_version: int
    expected_from: int | None
    action: str
    actor: str
    reason: str
    forced: bool


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; PostgreSQL aware ones in the session's zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class AliasHistoryStore:
    """Alias reads, atomic alias moves and history queries on one MLflow database."""

    def __init__(self, engine: Engine, *, workspace: str = DEFAULT_WORKSPACE_NAME) -> None:
        self.engine = engine
        self.workspace = workspace
        self._schema_ready = False

    @property
    def schema_ready(self) -> bool:
        """True once this store has created or checked Keel's tables."""
        return self._schema_ready

    @property
    def url(self) -> str:
        """The database URL without its password."""
        return redact_url(self.engine.url.render_as_string(hide_password=False))

    def ensure_schema(self) -> None:
        """Create or migrate Keel's tables (idempotent, safe when processes race to do it)."""
        if self._schema_ready:
            return
        with write_transaction(self.engine) as connection:
            if not inspect(connection).has_table(model_aliases.name):
                raise ModelNotFound(
                    f"no MLflow model registry in {self.url} yet: train a model with `keel train`"
                )
            if connection.dialect.name == "postgresql":
                # Serialise concurrent first runs: CREATE TABLE IF NOT EXISTS still races there.
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('keel_schema'))"))
            keel_metadata.create_all(connection, checkfirst=True)
            found = connection.execute(
                select(schema_versions.c.version).where(
                    schema_versions.c.component == SCHEMA_COMPONENT
                )
            ).scalar_one_or_none()
            if found is None:
                connection.execute(
                    schema_versions.insert().values(
                        component=SCHEMA_COMPONENT, version=SCHEMA_VERSION
                    )
                )
            elif found > SCHEMA_VERSION:
                raise BackendUnavailable(
                    f"{self.url} holds alias history schema v{found}, newer than this Keel "
                    f"understands (v{SCHEMA_VERSION}): upgrade Keel"
                )
            # Migrations from older versions go here, one step per schema version.
        self._schema_ready = True

    def _unavailable(self, what: str, error: OperationalError) -> BackendUnavailable:
        """The database went away mid-call (restart, network): say which, and that it is not
        the model that is missing."""
        return BackendUnavailable(f"{what} in {self.url}: {str(error.orig).splitlines()[0]}")

    def current_version(self, model_name: str, alias: str) -> int | None:
        """The version `model_name@alias` points to now, or None if the alias is not set."""
        try:
            with self.engine.connect() as connection:
                return self._current(connection, model_name, alias)
        except OperationalError as error:
            raise self._unavailable(f"could not read {model_name}@{alias}", error) from error

    def commit_move(self, request: MoveRequest) -> HistoryRecord:
        """Move the alias and append its history row in one transaction, or do neither.

        Raises `AliasConflict` if the alias no longer points at `request.expected_from` (another
        move won the race), `ModelNotFound` if the model or target version is gone.
        """
        self.ensure_schema()
        moved_at = datetime.now(UTC)
        try:
            with write_transaction(self.engine) as connection:
                self._lock_model(connection, request.model_name)
                current = self._current(connection, request.model_name, request.alias)
                if current != request.expected_from:
                    raise AliasConflict(
                        f"{request.model_name}@{request.alias} moved to version {current} while "
                        f"this move (from {request.expected_from}) was being made; check "
                        f"`keel models history {request.model_name}` and retry"
                    )
                self._require_version(connection, request.model_name, request.to_version)
                self._write_alias(connection, request, current)
                moved = HistoryRecord(
                    id=0,  # assigned by the insert
                    model_name=request.model_name,
                    alias=request.alias,
                    from_version=current,
                    to_version=request.to_version,
                    action=request.action,
                    actor=request.actor,
                    reason=request.reason,
                    forced=request.forced,
                    moved_at=moved_at,
                )
                row = {k: v for k, v in asdict(moved).items() if k != "id"}
                record_id = connection.execute(
                    alias_history_table.insert()
                    .values(workspace=self.workspace, **row)
                    .returning(alias_history_table.c.id)
                ).scalar_one()
        except OperationalError as error:
            what = f"could not move {request.model_name}@{request.alias}"
            raise self._unavailable(what, error) from error
        return replace(moved, id=int(record_id))

    def history(self, model_name: str, alias: str | None = None) -> list[HistoryRecord]:
        """Recorded moves of a model's aliases (or one alias), oldest first."""
        self.ensure_schema()
        table = alias_history_table
        query = select(table).where(
            table.c.workspace == self.workspace, table.c.model_name == model_name
        )
        if alias is not None:
            query = query.where(table.c.alias == alias)
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(query.order_by(table.c.id)).mappings().all()
        except OperationalError as error:
            raise self._unavailable(f"could not read the history of {model_name}", error) from error
        return [
            HistoryRecord(
                id=int(row["id"]),
                model_name=row["model_name"],
                alias=row["alias"],
                from_version=row["from_version"],
                to_version=int(row["to_version"]),
                action=row["action"],
                actor=row["actor"],
                reason=row["reason"],
                forced=bool(row["forced"]),
                moved_at=_utc(row["moved_at"]),
            )
            for row in rows
        ]

    def _current(self, connection: Connection, model_name: str, alias: str) -> int | None:
        found = connection.execute(
            select(model_aliases.c.version).where(
                model_aliases.c.workspace == self.workspace,
                model_aliases.c.name == model_name,
                model_aliases.c.alias == alias,
            )
        ).scalar_one_or_none()
        return None if found is None else int(found)

    def _lock_model(self, connection: Connection, model_name: str) -> None:
        # The registered model's row always exists (an alias row may not yet), so every mover of
        # any alias of this model queues here; SQLite already holds its write lock.
        query = select(registered_models.c.name).where(
            registered_models.c.workspace == self.workspace,
            registered_models.c.name == model_name,
        )
        if connection.dialect.name != "sqlite":
            query = query.with_for_update()
        if connection.execute(query).first() is None:
            raise ModelNotFound(f"model {model_name} not found in {self.url}")

    def _require_version(self, connection: Connection, model_name: str, version: int) -> None:
        found = connection.execute(
            select(model_versions.c.version).where(
                model_versions.c.workspace == self.workspace,
                model_versions.c.name == model_name,
                model_versions.c.version == version,
                model_versions.c.current_stage != STAGE_DELETED_INTERNAL,
            )
        ).first()
        if found is None:
            raise ModelNotFound(f"model version {model_name}/{version} not found")

    def _write_alias(
        self, connection: Connection, request: MoveRequest, current: int | None
    ) -> None:
        if current is None:
            try:
                with connection.begin_nested():
                    connection.execute(
                        model_aliases.insert().values(
                            workspace=self.workspace,
                            name=request.model_name,
                            alias=request.alias,
                            version=request.to_version,
                        )
                    )
            except IntegrityError as error:
                # The alias row appeared after our read: a writer outside Keel set it.
                raise AliasConflict(
                    f"{request.model_name}@{request.alias} was set by someone else during this "
                    "move; check `keel models show` and retry"
                ) from error
            return
        # Compare-and-set even under the lock: a writer that bypasses Keel (MLflow's own API)
        # does not take it.
        updated = connection.execute(
            model_aliases.update()
            .where(
                and_(
                    model_aliases.c.workspace == self.workspace,
                    model_aliases.c.name == request.model_name,
                    model_aliases.c.alias == request.alias,
                    model_aliases.c.version == current,
                )
            )
            .values(version=request.to_version)
        )
        if updated.rowcount != 1:
            raise AliasConflict(
                f"{request.model_name}@{request.alias} changed during the move; retry"
            )

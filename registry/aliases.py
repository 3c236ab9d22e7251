"""Audited alias moves: promote, roll back, and read the history of a model's aliases.

Every alias move in Keel (the CLI, training, tests) goes through `move_alias`, which writes
MLflow's alias and Keel's history row in one transaction (see `registry.history_store`), so the
two never disagree. MLflow's own `set_registered_model_alias` still works but leaves no history;
Keel notices such moves when it next rolls back.

With an `http(s)://` tracking server, training, registration and loading go through the server,
and only these moves use its backend database directly (`KEEL_MLFLOW_BACKEND_STORE_URI`); each
move first checks that the server and that database agree on where the alias points.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from keel.core.backends import is_tracking_server, mlflow_tracking_uri, redact_url
from keel.core.errors import (
    AliasConflict,
    AliasUnchanged,
    BackendUnavailable,
    ModelNotFound,
    PromotionRefused,
)
from keel.core.settings import Settings
from registry.client import mlflow_client
from registry.database import connect_check, registry_database_url
from registry.history_store import (
    PROMOTE,
    ROLLBACK,
    AliasHistoryStore,
    HistoryRecord,
    MoveRequest,
)
from registry.refs import get_registered_model, get_version, parse_version
from registry.registry_reads import GATE_REASON_TAG, GATE_TAG, require_model

if TYPE_CHECKING:  # importing mlflow takes seconds: `alias_history` serves a quick command
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

GATE_FAILED = "failed"
GATE_BASELINE_TAG = "keel.gate_baseline"  # written by `training.gate`: failed = loses to baseline


@dataclass(frozen=True)
class AliasMove:
    """One move of `model_name@alias`, as recorded in Keel's alias history.

    `from_version` is None for the alias's first move; `forced` is True when the move overrode a
    failed gate; `action` is `promote` or `rollback`; `moved_at` is UTC.
    """

    id: int
    model_name: str
    alias: str
    from_version: int | None
    to_version: int
    actor: str
    reason: str
    forced: bool
    moved_at: datetime
    action: str = PROMOTE

    @classmethod
    def from_record(cls, record: HistoryRecord) -> AliasMove:
        return cls(
            id=record.id,
            model_name=record.model_name,
            alias=record.alias,
            from_version=record.from_version,
            to_version=record.to_version,
            actor=record.actor,
            reason=record.reason,
            forced=record.forced,
            moved_at=record.moved_at,
            action=record.action,
        )


@lru_cache(maxsize=16)
def _store_for(url: str) -> AliasHistoryStore:
    return AliasHistoryStore(connect_check(url))


def alias_store(settings: Settings) -> AliasHistoryStore:
    """The history store on the workspace's MLflow database, its schema created or migrated.

    The database is reached (and fails with its redacted URL) before MLflow's own client is
    built, because MLflow retries an unreachable database for minutes.
    """
    url = registry_database_url(settings)
    connect_check(url)
    store = _store_for(url)
    if not store.schema_ready:
        # MLflow creates or upgrades its own tables when its store is first opened.
        mlflow_client(settings).search_registered_models(max_results=1)
        store.ensure_schema()
    return store


def check_same_registry(
    settings: Settings, client: MlflowClient, store: AliasHistoryStore, name: str, alias: str
) -> int | None:
    """Where `name@alias` points in the database Keel writes; with a tracking server, after
    checking the server sees the same (else `KEEL_MLFLOW_BACKEND_STORE_URI` is another database).
    """
    current = store.current_version(name, alias)
    uri = mlflow_tracking_uri(settings)
    if is_tracking_server(uri):
        served = get_registered_model(client, name).aliases.get(alias)
        if (None if served is None else int(served)) != current:
            raise BackendUnavailable(
                f"the tracking server {redact_url(uri)} has {name}@{alias} at version {served} "
                f"but {store.url} has it at {current}: KEEL_MLFLOW_BACKEND_STORE_URI must be "
                "the server's own backend store"
            )
    return current


def resolve_actor(settings: Settings, actor: str | None = None) -> str:
    """Who is moving the alias: the argument, else `KEEL_ACTOR`, else the OS user."""
    for candidate in (actor, settings.actor):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def check_alias(alias: str) -> str:
    """The alias if MLflow would accept it (`latest` and `v<N>` are reserved), else ValueError."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import (
        _validate_model_alias_name,
        _validate_model_alias_name_reserved,
    )

    try:
        _validate_model_alias_name(alias)
        _validate_model_alias_name_reserved(alias)
    except MlflowException as error:
        raise ValueError(f"alias {alias!r} is not allowed: {error.message}") from None
    return alias


def _check_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise ValueError("a reason is required for every alias move (--reason)")
    return reason.strip()


def move_alias(
    settings: Settings,
    *,
    name: str,
    alias: str,
    version: str | int,
    reason: str,
    actor: str | None = None,
    force: bool = False,
) -> AliasMove:
    """Point `name@alias` at `version` and record the move; refuses a gate-failed version.

    A version tagged `keel.gate=failed` is refused with `PromotionRefused` unless `force`, and
    the forced move is recorded as such. An alias already at `version` raises `AliasUnchanged`
    (a `PromotionRefused`) and records nothing. If another move lands on the same alias between
    this call's read and its write, this one raises `AliasConflict` and changes nothing.
    """
    check_alias(alias)
    reason = _check_reason(reason)
    target = parse_version(name, version)
    store = alias_store(settings)
    client = mlflow_client(settings)
    model_version = get_version(client, name, target)
    tags = model_version.tags or {}
    # `challenger` may hold a version that beats the baseline but not the champion; one that
    # loses to the baseline gets no alias at all (an A/B share would serve it) unless forced.
    lost_to_baseline = tags.get(GATE_BASELINE_TAG) == GATE_FAILED
    gate_failed = tags.get(GATE_TAG) == GATE_FAILED and (alias != "challenger" or lost_to_baseline)
    current = check_same_registry(settings, client, store, name, alias)
    if current == target:
        raise AliasUnchanged(f"{name}@{alias} already is version {target}: nothing to do")
    if gate_failed and not force:
        why = tags.get(GATE_REASON_TAG, "no reason recorded")
        raise PromotionRefused(
            f"{name}/{target} failed its gate ({why}); use --force to promote it anyway "
            "(the override is recorded)"
        )
    record = store.commit_move(
        MoveRequest(
            model_name=name,
            alias=alias,
            to_version=target,
            expected_from=current,
            action=PROMOTE,
            actor=resolve_actor(settings, actor),
            reason=reason,
            forced=gate_failed,
        )
    )
    logger.debug("moved %s@%s from %s to %s", name, alias, record.from_version, target)
    return AliasMove.from_record(record)


def rollback_target(moves: Sequence[AliasMove], current: int | None) -> int:
    """The version an alias returns to on rollback, from its history (oldest first).

    History is an undo stack: a promotion pushes the version it replaced, a rollback pops one,
    so rolling back twice goes back two steps rather than flipping between two versions.
    """
    if not moves:
        raise PromotionRefused("no recorded moves: nothing to roll back")
    last = moves[-1]
    if current != last.to_version:
        raise AliasConflict(
            f"{last.model_name}@{last.alias} points to version {current}, but Keel last moved "
            f"it to {last.to_version}: it was moved outside Keel; promote a version explicitly"
        )
    earlier: list[int | None] = []
    for move in moves:
        if move.action == ROLLBACK:
            if earlier:
                earlier.pop()
        else:
            earlier.append(move.from_version)
    if not earlier or earlier[-1] is None:
        raise PromotionRefused(
            f"{last.model_name}@{last.alias} has no earlier version to roll back to"
        )
    return earlier[-1]


def rollback_alias(
    settings: Settings,
    *,
    name: str,
    alias: str,
    reason: str,
    actor: str | None = None,
) -> AliasMove:
    """Move `name@alias` back to the version it pointed to before its last move, and record it.

    The gate is not re-checked: the version served under this alias before.
    """
    check_alias(alias)
    reason = _check_reason(reason)
    store = alias_store(settings)
    client = mlflow_client(settings)
    get_registered_model(client, name)
    current = check_same_registry(settings, client, store, name, alias)
    history = [AliasMove.from_record(r) for r in store.history(name, alias)]
    if current is None and not history:
        raise ModelNotFound(f"alias {name}@{alias} not found")
    target = rollback_target(history, current)
    record = store.commit_move(
        MoveRequest(
            model_name=name,
            alias=alias,
            to_version=target,
            expected_from=current,
            action=ROLLBACK,
            actor=resolve_actor(settings, actor),
            reason=reason,
            forced=False,
        )
    )
    logger.debug("rolled %s@%s back from %s to %s", name, alias, current, target)
    return AliasMove.from_record(record)


def alias_history(settings: Settings, *, name: str, alias: str | None = None) -> list[AliasMove]:
    """Every recorded move of the model's aliases (or of one alias), oldest first."""
    # Read without MLflow's client (seconds to import and open): the history table is created
    # on first read if missing, MLflow's own tables only by MLflow (else ModelNotFound).
    store = _store_for(registry_database_url(settings))
    records = store.history(name, alias)
    if not records:
        require_model(settings, name)  # unknown model: ModelNotFound listing the known ones
    return [AliasMove.from_record(r) for r in records]

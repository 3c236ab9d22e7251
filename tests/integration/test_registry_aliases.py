"""Alias moves with history, on MLflow over SQLite and over a fresh PostgreSQL database: the same
tests run against both backends."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest
from registry_helpers import BACKENDS, register_versions, registry_settings
from sqlalchemy import inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from keel.core.backends import mlflow_tracking_uri
from keel.core.errors import AliasConflict, BackendUnavailable, ModelNotFound, PromotionRefused
from keel.core.settings import Settings
from registry.aliases import AliasMove, alias_history, alias_store, move_alias, rollback_alias
from registry.client import mlflow_client
from registry.history_store import (
    SCHEMA_VERSION,
    AliasHistoryStore,
    alias_history_table,
    schema_versions,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings on MLflow over SQLite, then over a PostgreSQL database made for this module."""
    home = tmp_path_factory.mktemp(f"registry-{request.param}") / "keel-home"
    with registry_settings(request.param, home) as settings:
        yield settings


def champion(settings: Settings, name: str) -> int:
    return int(mlflow_client(settings).get_model_version_by_alias(name, "champion").version)


def test_promote_moves_the_alias_and_records_who_why_and_from_where(backend: Settings) -> None:
    name = register_versions(backend, ["passed", "passed"])
    first = move_alias(backend, name=name, alias="champion", version=1, reason="first model")
    second = move_alias(backend, name=name, alias="champion", version="2", reason="better")

    assert champion(backend, name) == 2
    assert (first.from_version, first.to_version) == (None, 1)
    assert (second.from_version, second.to_version) == (1, 2)
    assert second.actor == "tester"
    assert second.reason == "better"
    assert not second.forced
    assert second.moved_at.tzinfo is not None
    assert alias_history(backend, name=name, alias="champion") == [first, second]


def test_rollback_returns_to_the_previous_version(backend: Settings) -> None:
    name = register_versions(backend, ["passed", "passed"])
    move_alias(backend, name=name, alias="champion", version=1, reason="first")
    move_alias(backend, name=name, alias="champion", version=2, reason="second")

    back = rollback_alias(backend, name=name, alias="champion", reason="v2 misbehaves")

    assert (back.from_version, back.to_version, back.action) == (2, 1, "rollback")
    assert champion(backend, name) == 1


def test_rollback_twice_goes_back_two_steps(backend: Settings) -> None:
    name = register_versions(backend, ["passed", "passed", "passed"])
    for version in (1, 2, 3):
        move_alias(backend, name=name, alias="champion", version=version, reason=f"v{version}")

    rollback_alias(backend, name=name, alias="champion", reason="v3 bad")
    assert champion(backend, name) == 2
    rollback_alias(backend, name=name, alias="champion", reason="v2 bad too")
    assert champion(backend, name) == 1
    with pytest.raises(PromotionRefused, match="no earlier version"):
        rollback_alias(backend, name=name, alias="champion", reason="again")
    assert champion(backend, name) == 1


def test_history_lists_every_move_of_every_alias_in_order(backend: Settings) -> None:
    name = register_versions(backend, ["passed", "passed"])
    move_alias(backend, name=name, alias="challenger", version=2, reason="trained")
    move_alias(backend, name=name, alias="champion", version=1, reason="first")
    move_alias(backend, name=name, alias="champion", version=2, reason="promoted")
    rollback_alias(backend, name=name, alias="champion", reason="latency")

    moves = alias_history(backend, name=name)
    assert [(m.alias, m.from_version, m.to_version, m.action, m.reason) for m in moves] == [
        ("challenger", None, 2, "promote", "trained"),
        ("champion", None, 1, "promote", "first"),
        ("champion", 1, 2, "promote", "promoted"),
        ("champion", 2, 1, "rollback", "latency"),
    ]
    assert [m.moved_at for m in moves] == sorted(m.moved_at for m in moves)
    assert len(alias_history(backend, name=name, alias="challenger")) == 1


def test_gate_failed_version_is_refused_unless_forced_and_force_is_recorded(
    backend: Settings,
) -> None:
    name = register_versions(backend, ["passed", "failed"])
    move_alias(backend, name=name, alias="champion", version=1, reason="first")

    with pytest.raises(PromotionRefused, match="failed its gate"):
        move_alias(backend, name=name, alias="champion", version=2, reason="try")
    assert champion(backend, name) == 1
    assert len(alias_history(backend, name=name)) == 1

    forced = move_alias(
        backend, name=name, alias="champion", version=2, reason="hotfix", force=True
    )
    assert forced.forced
    assert champion(backend, name) == 2
    assert alias_history(backend, name=name)[-1].forced


def test_challenger_takes_a_version_behind_the_champion_not_one_behind_the_baseline(
    backend: Settings,
) -> None:
    """`challenger` is served (A/B, shadow): a version worse than no model needs --force."""
    name = register_versions(backend, ["passed", "failed", "failed"])
    client = mlflow_client(backend)
    client.set_model_version_tag(name, "2", "keel.gate_baseline", "passed")  # behind champion
    client.set_model_version_tag(name, "3", "keel.gate_baseline", "failed")  # behind baseline

    waiting = move_alias(backend, name=name, alias="challenger", version=2, reason="trained")
    assert not waiting.forced
    with pytest.raises(PromotionRefused, match=f"{name}/3 failed its gate"):
        move_alias(backend, name=name, alias="challenger", version=3, reason="try")
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "2"

    forced = move_alias(
        backend, name=name, alias="challenger", version=3, reason="debugging", force=True
    )
    assert forced.forced and forced.actor == "tester" and forced.reason == "debugging"
    assert alias_history(backend, name=name, alias="challenger")[-1] == forced


def test_unknown_model_version_and_alias_are_named(backend: Settings) -> None:
    name = register_versions(backend, ["passed"])
    with pytest.raises(ModelNotFound, match="model nosuch not found"):
        move_alias(backend, name="nosuch", alias="champion", version=1, reason="x")
    with pytest.raises(ModelNotFound, match=f"{name}/9 not found"):
        move_alias(backend, name=name, alias="champion", version=9, reason="x")
    with pytest.raises(ModelNotFound, match=f"{name}@champion not found"):
        rollback_alias(backend, name=name, alias="champion", reason="x")
    with pytest.raises(ModelNotFound, match="model nosuch not found"):
        alias_history(backend, name="nosuch")


def test_racing_promotions_on_one_alias_one_wins_and_history_shows_one_move(
    backend: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = register_versions(backend, ["passed", "passed", "passed"])
    move_alias(backend, name=name, alias="champion", version=1, reason="first")
    # Both movers read the alias before either writes: the window a real race needs.
    both_read = threading.Barrier(2, timeout=20)
    read = AliasHistoryStore.current_version

    def read_then_wait(self: AliasHistoryStore, model_name: str, alias: str) -> int | None:
        seen = read(self, model_name, alias)
        both_read.wait()
        return seen

    monkeypatch.setattr(AliasHistoryStore, "current_version", read_then_wait)
    outcomes: dict[int, AliasMove | Exception] = {}

    def promote(version: int) -> None:
        try:
            outcomes[version] = move_alias(
                backend, name=name, alias="champion", version=version, reason=f"race {version}"
            )
        except Exception as error:  # recorded for the assertions below
            outcomes[version] = error

    threads = [threading.Thread(target=promote, args=(v,)) for v in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    winners = [v for v, o in outcomes.items() if isinstance(o, AliasMove)]
    losers = [o for o in outcomes.values() if not isinstance(o, AliasMove)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1 and isinstance(losers[0], AliasConflict), outcomes
    assert "moved to version" in str(losers[0])
    assert champion(backend, name) == winners[0]
    moves = alias_history(backend, name=name, alias="champion")
    assert [(m.from_version, m.to_version) for m in moves] == [(None, 1), (1, winners[0])]


def test_a_failed_history_write_leaves_the_alias_where_it_was(
    backend: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = register_versions(backend, ["passed", "passed"])
    move_alias(backend, name=name, alias="champion", version=1, reason="first")
    # A history row that violates NOT NULL makes the insert fail after the alias row was written.
    monkeypatch.setattr("registry.aliases.resolve_actor", lambda *_: None)

    with pytest.raises(IntegrityError, match=r"(?i)null"):
        move_alias(backend, name=name, alias="champion", version=2, reason="doomed")

    assert champion(backend, name) == 1
    engine = alias_store(backend).engine
    with engine.connect() as connection:
        rows = connection.execute(
            select(alias_history_table.c.to_version).where(alias_history_table.c.model_name == name)
        ).all()
    assert [r.to_version for r in rows] == [1]


def test_history_lives_in_mlflows_own_database_beside_its_alias_table(backend: Settings) -> None:
    register_versions(backend, ["passed"])
    engine = alias_store(backend).engine

    assert engine.url.database == make_url(mlflow_tracking_uri(backend)).database
    tables = set(inspect(engine).get_table_names())
    assert {"registered_model_aliases", "keel_alias_history", "keel_schema_version"} <= tables


def test_a_newer_history_schema_is_refused_rather_than_misread(backend: Settings) -> None:
    engine = alias_store(backend).engine
    with engine.begin() as connection:
        connection.execute(update(schema_versions).values(version=SCHEMA_VERSION + 1))
    try:
        with pytest.raises(BackendUnavailable, match="newer than this Keel"):
            AliasHistoryStore(engine).ensure_schema()
    finally:
        with engine.begin() as connection:
            connection.execute(update(schema_versions).values(version=SCHEMA_VERSION))


def test_concurrent_movers_never_break_the_history_chain(backend: Settings) -> None:
    name = register_versions(backend, ["passed"] * 4)
    successes: list[AliasMove] = []
    conflicts: list[AliasConflict] = []

    def mover(offset: int) -> None:
        for step in range(5):
            version = (offset + step) % 4 + 1
            try:
                successes.append(
                    move_alias(backend, name=name, alias="champion", version=version, reason="x")
                )
            except AliasConflict as error:
                conflicts.append(error)
            except PromotionRefused:  # already there: nothing to do
                pass

    threads = [threading.Thread(target=mover, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    moves = alias_history(backend, name=name, alias="champion")
    assert len(moves) == len(successes) > 0
    for before, after in itertools.pairwise(moves):
        assert after.from_version == before.to_version
    assert champion(backend, name) == moves[-1].to_version

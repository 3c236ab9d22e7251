"""PostgreSQL restarts (immediate shutdown) while promotions run: every move committed both the
alias and its history row or neither, the history chain is unbroken, the alias is the last
row's target, and the moves that failed said why (no hang)."""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from fault_services import private_postgres

from keel.core.errors import AliasConflict, BackendUnavailable, KeelError, PromotionRefused
from keel.core.settings import Settings
from registry.aliases import alias_history, move_alias
from registry.client import ensure_experiment, mlflow_client
from registry.database import database_engine

pytestmark = pytest.mark.integration

EXPECTED_FAILURES = (BackendUnavailable, AliasConflict, PromotionRefused)
"""Down database; another thread's move won the race; the alias already points there."""


def register(settings: Settings, versions: int) -> str:
    client = mlflow_client(settings)
    experiment = ensure_experiment(settings, client)
    name = f"churn_{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    for number in range(1, versions + 1):
        run = client.create_run(experiment)
        client.create_model_version(
            name, source=str(settings.home / "placeholder" / str(number)), run_id=run.info.run_id
        )
    return name


def test_alias_and_history_stay_consistent_through_a_postgres_restart(tmp_path: Path) -> None:
    with private_postgres() as server:
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute('CREATE DATABASE "keel"')
        settings = Settings(
            home=tmp_path / "home",
            profile="production",
            postgres_url=server.url.rpartition("/")[0] + "/keel",
            actor="faults",
        )
        name = register(settings, versions=4)
        move_alias(settings, name=name, alias="champion", version=1, reason="first")

        done: list[tuple[int, float]] = []
        failed: list[tuple[KeelError, float]] = []
        unexpected: list[BaseException] = []
        stop = time.monotonic() + 8.0

        def promote(seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < stop:
                target = rng.randint(1, 4)
                started = time.monotonic()
                try:
                    move = move_alias(
                        settings, name=name, alias="champion", version=target, reason=f"t{seed}"
                    )
                    done.append((move.to_version, time.monotonic() - started))
                except EXPECTED_FAILURES as error:
                    failed.append((error, time.monotonic() - started))
                    time.sleep(0.05)
                except BaseException as error:  # recorded, then the test fails naming it
                    unexpected.append(error)
                    return

        threads = [threading.Thread(target=promote, args=(seed,)) for seed in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        server.pg_ctl("restart", "-m", "immediate")
        time.sleep(2.0)
        server.pg_ctl("restart", "-m", "fast")
        for thread in threads:
            thread.join(60)
            assert not thread.is_alive(), "a promotion hung through the restart"

        assert not unexpected, [f"{type(e).__name__}: {e}" for e in unexpected[:3]]
        down = [e for e, _ in failed if isinstance(e, BackendUnavailable)]
        assert down, "no move ran into the restart: the test proved nothing"
        reasons = ("could not move", "could not read", "cannot reach", "registry is unavailable")
        assert all(any(r in e.message for r in reasons) for e in down), [e.message for e in down]
        slowest = max(seconds for _, seconds in [*done, *failed])
        assert slowest < 30, f"a move took {slowest:.1f} s"

        database_engine.cache_clear()
        history = alias_history(settings, name=name, alias="champion")
        assert len(history) >= 1 + len(done), "a move that returned has no history row"
        assert len(history) <= 1 + len(done) + len(down), "history rows without a move"
        for earlier, later in itertools.pairwise(history):
            assert later.from_version == earlier.to_version, (earlier, later)
        current = mlflow_client(settings).get_model_version_by_alias(name, "champion")
        assert int(current.version) == history[-1].to_version

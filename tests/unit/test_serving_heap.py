"""The server settles its heap (collect, then freeze) once a reload changed a served version."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace

import pytest

from serving import runtime as runtime_module
from serving.heap import settle_heap
from serving.runtime import Runtime


class _Model:
    def __init__(self, changes: bool) -> None:
        self.changes = changes

    def check_aliases(self, metrics: object) -> bool:
        return self.changes


@pytest.mark.parametrize(("changes", "settled"), [((False, False), 0), ((False, True), 1)])
def test_an_alias_check_settles_the_heap_only_when_a_version_changed(
    monkeypatch: pytest.MonkeyPatch, changes: tuple[bool, bool], settled: int
) -> None:
    calls: list[None] = []
    monkeypatch.setattr(runtime_module, "settle_heap", lambda: calls.append(None))
    runtime = SimpleNamespace(
        models={str(i): _Model(c) for i, c in enumerate(changes)}, metrics=None
    )
    asyncio.run(Runtime.check_aliases(runtime))  # type: ignore[arg-type]
    assert len(calls) == settled


def test_settle_heap_freezes_what_is_alive() -> None:
    alive = [[n] for n in range(10_000)]
    settle_heap()
    tracked = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
    assert not any(id(o) in tracked for o in alive[::1_000])

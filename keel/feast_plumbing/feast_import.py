"""Feast without typeguard's import-time instrumentation, where no definitions are written.

Feast decorates its definition classes (FeatureView, Entity, FeatureService, ...) with
typeguard's `@typechecked`, which re-parses and recompiles every method from its module's
source when Feast is imported: about 4 s of CPU per process on a 2-core machine (`import
serving.app` 6.1 s with it, 1.8 s without). typeguard documents the decorator as a development
aid that `python -O` turns into a no-op. Its checks matter where a repo's definitions are built
(`feast apply`, which Keel runs in Feast's own process for a keel.yaml repo, and `keel features
apply` / `keel demo` for the churn example's); the server and the other commands rebuild
definitions from the registry, which Feast wrote. Those turn only this decorator off, before
Feast is imported: asserts stay, and so does the bytecode cache (under `-O` Python would need
an optimised cache nobody compiled, which made the start no faster here).
"""

from __future__ import annotations

import sys
from typing import Any


def skip_typeguard_instrumentation() -> bool:
    """Make typeguard's `typechecked` return what it decorates unchanged, as under `python -O`.
    True when this takes effect: False (and nothing changed) once Feast is imported."""
    if "feast" in sys.modules:
        return False
    import typeguard

    typeguard.typechecked = _unchanged
    return True


def _unchanged(target: Any = None, **_options: Any) -> Any:
    """`typechecked` as `python -O` has it: the target itself (or, called with options only,
    a decorator that returns its target)."""
    if target is None:
        return _unchanged
    return target

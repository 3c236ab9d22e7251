"""Shared fixtures: isolated workspaces and the rule that CI never skips a service test."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import pytest

from keel.core.settings import Settings

if TYPE_CHECKING:
    from keel.cli.demo_journey import DemoResult
    from tests.delivery_workspace import DeliveryWorkspace


def services_required() -> bool:
    return os.environ.get("KEEL_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
            return True
    except OSError:
        return False


def skip_or_fail(reason: str) -> NoReturn:
    """The one way a test gives up on a missing service, binary or privilege: a skip on a
    developer machine, a failure naming `reason` when KEEL_REQUIRE_SERVICES is set (CI)."""
    if services_required():
        pytest.fail(f"{reason} and KEEL_REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(reason)


def require_service(url: str, name: str) -> None:
    """Skip when the server is down on a developer machine; fail in CI."""
    if not _reachable(url):
        skip_or_fail(f"{name} is not reachable at {url}")


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on a fresh workspace under the test's temporary directory."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"home": tmp_path / "keel-home"}
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("KEEL_REDIS_URL", "redis://127.0.0.1:6379/0")
    require_service(url, "Redis")
    return url


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("KEEL_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    require_service(url.replace("postgresql", "tcp", 1), "PostgreSQL")
    return url


@pytest.fixture(scope="session")
def journey(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """The whole journey once per test session, on a small generated data set."""
    from keel.cli.demo_journey import run_demo

    settings = Settings(home=tmp_path_factory.mktemp("journey") / "keel-home")
    return run_demo(settings, customers=1500, days=150, seed=7, requests=3)


@pytest.fixture(scope="session")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> DeliveryWorkspace:
    """The delivery example once per test session: both models trained, champions set,
    materialized (tests serve a copy: `tests.delivery_workspace.copy_delivery`)."""
    from tests.delivery_workspace import build_delivery_workspace

    return build_delivery_workspace(tmp_path_factory.mktemp("delivery"))


@pytest.fixture
def in_process_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prometheus values kept per metric object, as in a fresh server process.

    Importing Feast sets PROMETHEUS_MULTIPROCESS_DIR (for its own gunicorn feature server), which
    makes every metric in the process a shared file keyed by name: two apps built in one test
    process would then add up each other's counts.
    """
    from prometheus_client import values

    monkeypatch.setattr(values, "ValueClass", values.MutexValue)

"""Under KEEL_REQUIRE_SERVICES (CI) a test missing a binary, service or privilege fails with the
reason instead of skipping; on a developer machine it skips. Cheap: nothing is started."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import skip_or_fail
from fault_services import PrivateRedis, private_postgres


@pytest.fixture
def required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_REQUIRE_SERVICES", "1")


def test_skip_or_fail_fails_with_the_reason_under_the_flag(required: None) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        skip_or_fail("redis-server is not installed")
    assert str(failed.value) == "redis-server is not installed and KEEL_REQUIRE_SERVICES is set"


def test_skip_or_fail_skips_without_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        skip_or_fail("redis-server is not installed")
    assert str(skipped.value) == "redis-server is not installed"


def test_private_redis_without_redis_server_fails_under_the_flag(
    required: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no redis-server on it
    with pytest.raises(pytest.fail.Exception, match="redis-server is not installed"):
        PrivateRedis(6399).start()


def test_private_postgres_without_server_binaries_fails_under_the_flag(
    required: None, tmp_path: Path
) -> None:
    with (
        pytest.raises(pytest.fail.Exception, match=r"no PostgreSQL server binaries \(initdb"),
        private_postgres(tmp_path),
    ):
        pass

"""The production profile refuses default or empty credentials for every command: exit 2 with a
message naming the setting and never its value. Loopback trust-auth development still runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keel.cli.common import console
from keel.cli.main import app
from keel.core.settings import get_settings

pytestmark = pytest.mark.integration
runner = CliRunner()
GOOD_TOKENS = "k7Qm2vX9pL4sT8wZ1nB5=predict+feedback+admin"
REFUSAL = "the production profile refuses default or empty credentials"
COMMANDS = [["serve"], ["train"], ["features", "materialize"], ["predictions", "export"]]

REFUSED = [
    ("KEEL_POSTGRES_URL", "postgresql://keel:CHANGE_ME@postgres:5432/keel", "CHANGE_ME"),
    (
        "KEEL_POSTGRES_URL",
        "postgresql://postgres:postgres@127.0.0.1:5432/keel",
        "postgres:postgres",
    ),
    ("KEEL_POSTGRES_URL", "postgresql://keel@db.internal:5432/keel", "keel@db"),
    ("KEEL_REDIS_URL", "redis://:password@redis:6379/0", ":password@"),
    ("KEEL_REDIS_URL", "redis://:Admin@127.0.0.1:6379/0", ":Admin@"),
    ("KEEL_REDIS_URL", "redis://redis:6379/0", "redis://redis"),
    ("KEEL_MLFLOW_TRACKING_URI", "http://admin:changeme@mlflow:5000", "changeme"),
    (
        "KEEL_MLFLOW_BACKEND_STORE_URI",
        "postgresql://mlflow:mlflow@db.internal:5432/mlflow",
        "mlflow:mlflow",
    ),
    ("KEEL_MLFLOW_BACKEND_STORE_URI", "postgresql://mlflow@db.internal/mlflow", "mlflow@db"),
    ("KEEL_API_TOKENS", "CHANGE_ME=predict+feedback+admin", "CHANGE_ME"),
    ("KEEL_API_TOKENS", f"{GOOD_TOKENS},CHANGE_ME-CHANGE_ME-CHANGE_ME=admin", "CHANGE_ME"),
]


@pytest.fixture
def production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Production settings that pass (loopback trust auth, a real token), to break one by one."""
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "keel-home"))
    monkeypatch.setenv("KEEL_PROFILE", "production")
    monkeypatch.setenv("KEEL_POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/keel")
    monkeypatch.setenv("KEEL_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("KEEL_API_TOKENS", GOOD_TOKENS)
    monkeypatch.delenv("KEEL_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(console, "width", 400)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def keel(*args: str) -> tuple[int, str]:
    get_settings.cache_clear()
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def assert_refused(command: list[str], setting: str, shown: str) -> None:
    code, out = keel(*command)
    assert code == 2, out
    assert REFUSAL in out and setting in out
    assert shown not in out  # the value (or its password) is never printed


@pytest.mark.parametrize(("setting", "value", "shown"), REFUSED)
def test_each_default_or_empty_credential_is_refused_by_name(
    production: None, monkeypatch: pytest.MonkeyPatch, setting: str, value: str, shown: str
) -> None:
    monkeypatch.setenv(setting, value)
    assert_refused(["train"], setting, shown)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_production_command_is_refused(
    production: None, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("KEEL_REDIS_URL", "redis://:CHANGE_ME@redis:6379/0")
    assert_refused(command, "KEEL_REDIS_URL", "CHANGE_ME")


def test_serve_refuses_production_without_tokens(
    production: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_API_TOKENS", "")
    code, out = keel("serve")
    assert code == 2, out
    assert "KEEL_API_TOKENS" in out


def test_loopback_trust_auth_and_real_credentials_pass_the_check(
    production: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for url in ("postgresql://postgres@localhost:1/keel", "postgresql://keel:Xq8-r2Lw@db:1/keel"):
        monkeypatch.setenv("KEEL_POSTGRES_URL", url)
        code, out = keel("data", "describe")  # gets past the check, then finds no data
        assert REFUSAL not in out
        assert code == 2 and "data" in out.lower()
    for uri in ("sqlite:///tmp/mlflow.db", "postgresql://postgres@127.0.0.1:1/mlflow"):
        monkeypatch.setenv("KEEL_MLFLOW_BACKEND_STORE_URI", uri)
        code, out = keel("data", "describe")
        assert REFUSAL not in out and code == 2


def test_local_profile_and_help_are_never_refused(
    production: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_POSTGRES_URL", "postgresql://keel:CHANGE_ME@postgres:5432/keel")
    helped = subprocess.run(
        [sys.executable, "-m", "keel.cli.main", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert helped.returncode == 0 and REFUSAL not in helped.stdout + helped.stderr
    monkeypatch.setenv("KEEL_PROFILE", "local")
    code, out = keel("data", "describe")
    assert code == 2 and REFUSAL not in out  # past the check: no data generated yet

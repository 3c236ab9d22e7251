"""`keel models …` through Typer's CliRunner, on MLflow over SQLite and over PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_helpers import BACKENDS, register_versions, registry_settings
from typer.testing import CliRunner

from keel.cli.common import console
from keel.cli.main import app
from keel.core.settings import Settings, get_settings

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp(f"cli-{request.param}") / "keel-home"
    with registry_settings(request.param, home) as settings:
        yield settings


@pytest.fixture
def backend(module_backend: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The module's backend, also as the environment the CLI reads its settings from."""
    monkeypatch.setenv("KEEL_HOME", str(module_backend.home))
    monkeypatch.setenv("KEEL_PROFILE", module_backend.profile)
    monkeypatch.setenv("KEEL_POSTGRES_URL", module_backend.postgres_url)
    monkeypatch.setenv("KEEL_ACTOR", "cli-tester")
    monkeypatch.setattr(console, "width", 400)  # one logical line is one printed line
    get_settings.cache_clear()
    yield module_backend
    get_settings.cache_clear()


def keel(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_promote_history_and_rollback_round_trip_as_json(backend: Settings) -> None:
    name = register_versions(backend, ["passed", "passed"])
    code, _ = keel("models", "promote", f"{name}/1", "--reason", "first")
    assert code == 0
    code, out = keel("models", "promote", f"{name}/2", "--alias", "champion", "--reason", "v2")
    assert code == 0, out
    assert out.strip() == f"{name}@champion: 1 -> 2"

    code, out = keel("models", "rollback", name, "--reason", "bad v2", "--json")
    assert code == 0, out
    assert json.loads(out)["to_version"] == 1

    code, out = keel("models", "history", name, "--alias", "champion", "--json")
    moves = json.loads(out)
    assert [(m["from_version"], m["to_version"], m["action"]) for m in moves] == [
        (None, 1, "promote"),
        (1, 2, "promote"),
        (2, 1, "rollback"),
    ]
    assert {m["actor"] for m in moves} == {"cli-tester"}


def test_promote_to_the_version_the_alias_has_exits_0_and_records_nothing(
    backend: Settings,
) -> None:
    name = register_versions(backend, ["passed", "passed"])
    keel("models", "promote", f"{name}/2", "--reason", "first")

    code, out = keel("models", "promote", f"{name}/2", "--reason", "again")
    assert code == 0, out
    assert out.strip() == f"{name}@champion already is version 2: nothing to do"
    code, out = keel("models", "promote", f"{name}/2", "--reason", "again", "--json")
    assert code == 0, out
    assert json.loads(out) == {
        "moved": False,
        "message": f"{name}@champion already is version 2: nothing to do",
    }

    _, out = keel("models", "history", name, "--json")
    moves = json.loads(out)
    assert [(m["from_version"], m["to_version"], m["reason"]) for m in moves] == [
        (None, 2, "first")
    ]


def test_gate_failed_promotion_exits_2_and_force_is_shown(backend: Settings) -> None:
    name = register_versions(backend, ["failed"])
    code, out = keel("models", "promote", f"{name}/1", "--reason", "try")
    assert code == 2
    assert "failed its gate" in out and "--force" in out

    code, out = keel("models", "promote", f"{name}/1", "--reason", "hotfix", "--force")
    assert code == 0, out
    assert out.strip() == f"{name}@champion: - -> 1 (forced past a failed gate)"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["models", "show", "nosuch"], "model nosuch not found"),
        (["models", "show", "{name}/7"], "{name}/7 not found"),
        (["models", "show", "{name}@gold"], "{name}@gold not found"),
        (["models", "promote", "{name}/7", "--reason", "x"], "{name}/7 not found"),
        (["models", "promote", "nosuch/1", "--reason", "x"], "model nosuch not found"),
        (["models", "rollback", "{name}", "--alias", "gold", "--reason", "x"], "{name}@gold"),
        (["models", "history", "nosuch"], "model nosuch not found"),
        (["models", "lineage", "nosuch/1"], "model nosuch not found"),
        (["models", "promote", "{name}/x", "--reason", "x"], "must be a number"),
    ],
)
def test_unknown_names_exit_2_with_one_line_naming_them(
    backend: Settings, args: list[str], named: str
) -> None:
    name = register_versions(backend, ["passed"])
    code, out = keel(*(a.format(name=name) for a in args))
    assert code == 2
    assert named.format(name=name) in out
    assert len(out.strip().splitlines()) == 1, out
    assert "Traceback" not in out


def test_list_and_show_report_aliases_metrics_and_gate(backend: Settings) -> None:
    name = register_versions(backend, ["passed", "failed"])
    keel("models", "promote", f"{name}/1", "--alias", "champion", "--reason", "first")

    code, out = keel("models", "show", name, "--json")
    assert code == 0, out
    model = json.loads(out)
    assert model["aliases"] == {"champion": 1}
    assert [(v["version"], v["gate"]) for v in model["versions"]] == [(2, "failed"), (1, "passed")]
    assert model["versions"][1]["metrics"]["pr_auc"] == pytest.approx(0.1)

    code, out = keel("models", "show", f"{name}@champion", "--json")
    assert json.loads(out)["version"] == 1

    code, out = keel("models", "list", "--json")
    assert code == 0
    assert name in {m["name"] for m in json.loads(out)}


def test_unreachable_database_is_named_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_PROFILE", "production")
    monkeypatch.setenv("KEEL_POSTGRES_URL", "postgresql://keel:s3cret@127.0.0.1:1/registry")
    get_settings.cache_clear()
    try:
        code, out = keel("models", "history", "churn")
    finally:
        get_settings.cache_clear()
    assert code == 2
    assert "cannot reach MLflow's database at" in out
    assert "127.0.0.1:1/registry" in out
    assert "s3cret" not in out

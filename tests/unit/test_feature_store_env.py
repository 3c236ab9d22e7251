"""The churn repo's feature_store*.yaml read two ways: by Keel (`repo_config`) and by Feast's own
`load_repo_config` (what `feast` runs) with `feast_environment` exported: the same config."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from feast.repo_config import load_repo_config
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.settings import Settings, get_settings
from keel.feast_plumbing.feature_store import (
    CONFIG_FILES,
    REPO_DIR,
    expand_variables,
    feast_environment,
    repo_config,
)


def profile_settings(tmp_path: Path, profile: str) -> Settings:
    return Settings(
        home=tmp_path / "ws",
        profile=profile,  # type: ignore[arg-type]
        project="churn_demo",
        redis_url="redis://:s3cret@cache:6380/4",
        postgres_url="postgresql://keel:pw@db:5432/keel",
        spark_master="spark://master:7077",
    )


@pytest.mark.parametrize("profile", ["local", "production", "spark"])
def test_feast_reads_the_yaml_as_keel_does_with_the_environment_exported(
    profile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = profile_settings(tmp_path, profile)
    for name, value in feast_environment(settings).items():
        monkeypatch.setenv(name, value)
    by_feast = load_repo_config(REPO_DIR, CONFIG_FILES[profile])
    by_keel = repo_config(settings)
    assert by_keel.model_dump() == by_feast.model_dump()
    assert by_keel.project == "churn_demo"
    assert "${" not in repr(by_keel.model_dump())


def test_keel_needs_no_exported_environment_and_ignores_a_stale_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keel fills the variables from its settings; values exported for another workspace do
    not leak in, and the process environment is left as it was."""
    monkeypatch.setenv("KEEL_FEAST_DIR", "/elsewhere/feast")
    before = dict(os.environ)
    config = repo_config(Settings(home=tmp_path))
    assert config.registry.path == str(tmp_path / "feast" / "registry.db")
    assert dict(os.environ) == before


def test_derived_values_never_use_a_setting_name(tmp_path: Path) -> None:
    """Exporting what `keel features env` prints must not override a setting with a value
    derived for one workspace (`KEEL_HOME` and the given settings themselves excepted)."""
    settings = profile_settings(tmp_path, "spark")
    exported = feast_environment(settings)
    settings_names = {f"KEEL_{name.upper()}" for name in Settings.model_fields}
    assert set(exported) & settings_names == {
        "KEEL_HOME",
        "KEEL_PROFILE",
        "KEEL_PROJECT",
        "KEEL_SPARK_MASTER",
    }
    for name in set(exported) & settings_names:  # those carry the setting's own value
        assert exported[name] == str(getattr(settings, name.removeprefix("KEEL_").lower()))


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "${KEEL_A}/x",
        "$KEEL_A/x",
        "${KEEL_UNSET}/x and $KEEL_UNSET",
        "$${KEEL_A} $ {KEEL_A} ${KEEL_A",
        "${KEEL_A}${KEEL_B}",
    ],
)
def test_expansion_is_os_path_expandvars_over_a_mapping(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {"KEEL_A": "/a", "KEEL_B": "b c"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KEEL_UNSET", raising=False)
    assert expand_variables(text, values) == os.path.expandvars(text)


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`KEEL_HOME` for in-process CLI runs (the settings are read once per process)."""
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.delenv("KEEL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no keel.yaml here
    get_settings.cache_clear()
    yield tmp_path / "ws"
    get_settings.cache_clear()


def test_env_command_prints_eval_able_exports_and_the_feast_command(cli_home: Path) -> None:
    result = CliRunner().invoke(app, ["features", "env"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == f"# then: cd {REPO_DIR} && feast apply  (or ui, serve)"
    exports = dict(line.removeprefix("export ").split("=", 1) for line in lines[:-1])
    assert exports == feast_environment(Settings(home=cli_home))


def test_env_command_with_a_project_says_its_repo_needs_none(
    cli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Path(__file__).resolve().parents[2] / "examples" / "delivery" / "keel.yaml"
    monkeypatch.setenv("KEEL_CONFIG", str(config))
    result = CliRunner().invoke(app, ["features", "env"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"# {config}: its repo {config.parent / 'feature_repo'} is a standard")

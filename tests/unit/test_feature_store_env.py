"""The churn repo's feature_store*.yaml read two ways: by Keel (`repo_config`) and by Feast's own
`load_repo_config` (what `feast` runs) with `feast_environment` exported: the same config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from feast.repo_config import load_repo_config

from keel.feature_store import (
    CONFIG_FILES,
    REPO_DIR,
    expand_variables,
    feast_environment,
    repo_config,
)
from keel.settings import Settings


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

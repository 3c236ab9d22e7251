"""Which model `keel monitor` and `keel data` work on: --model as typed, else keel.yaml's only
model, else the churn example."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.core.errors import InvalidInput
from keel.core.model_choice import chosen_model_ref, model_name
from keel.core.settings import Settings

MODEL = """
  - name: {name}
    feature_service: svc
    labels: labels.parquet
    label: y
    task: regression
"""


def _project(root: Path, *names: str) -> Path:
    body = "".join(MODEL.format(name=name) for name in names)
    path = root / "keel.yaml"
    path.write_text(f"feature_repo: repo\nmodels:{body}", encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("KEEL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return Settings(home=tmp_path / "ws")


def test_a_given_model_is_kept_and_a_bare_name_means_its_champion(settings: Settings) -> None:
    assert chosen_model_ref("eta", settings) == "eta@champion"
    assert chosen_model_ref("eta@challenger", settings) == "eta@challenger"
    assert chosen_model_ref("eta/3", settings) == "eta/3"
    assert model_name("eta@challenger") == "eta"
    with pytest.raises(InvalidInput, match="--model"):
        chosen_model_ref("eta@", settings)


def test_without_keel_yaml_the_default_is_the_example_champion(settings: Settings) -> None:
    assert chosen_model_ref(None, settings) == "churn@champion"


def test_keel_yamls_only_model_is_the_default(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, "eta")
    assert chosen_model_ref(None, settings) == "eta@champion"
    other = tmp_path / "other"
    other.mkdir()
    elsewhere = _project(other, "a", "b")
    monkeypatch.setenv("KEEL_CONFIG", str(elsewhere))
    with pytest.raises(InvalidInput, match=r"has models a, b: name one with --model"):
        chosen_model_ref(None, settings)

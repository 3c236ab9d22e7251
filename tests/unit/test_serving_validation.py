"""Each served version carries the expectations of its own reference profile (or none)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from serving_fakes import FEATURES, loaded_model, training_frame

from monitoring.profile import PROFILE_ARTIFACT, build_reference_profile
from monitoring.validation import Expectations
from serving import model_cache
from serving.model_cache import ModelCache, load_expectations


def version(number: str, run_id: str | None = "run") -> ModelVersion:
    return ModelVersion("churn", number, 0, run_id=run_id)


class ArtifactStore:
    """`download_artifacts` of an MLflow client over {run_id: profile JSON text}."""

    def __init__(self, profiles: dict[str, str]) -> None:
        self.profiles = profiles

    def download_artifacts(self, run_id: str, path: str, dst: str) -> str:
        if run_id not in self.profiles or path != PROFILE_ARTIFACT:
            raise MlflowException(f"no artifact {path} in run {run_id}")
        local = Path(dst) / "reference_profile.json"
        local.write_text(self.profiles[run_id], encoding="utf-8")
        return str(local)


def test_a_profile_becomes_expectations_and_its_absence_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame, _ = training_frame()
    profile = build_reference_profile(frame, FEATURES, None)
    store = ArtifactStore({"with": profile.to_json(), "broken": "{"})
    loaded = load_expectations(store, version("2", "with"))  # type: ignore[arg-type]
    assert loaded == Expectations.from_profile(profile)
    for run_id in ("older", "broken", None):
        assert load_expectations(store, version("1", run_id)) is None  # type: ignore[arg-type]
    warnings = [r.getMessage() for r in caplog.records if r.name == model_cache.__name__]
    assert len(warnings) == 3 and all("without data validation" in w for w in warnings)


def test_swaps_carry_each_versions_expectations_loaded_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aliases = {"champion": version("1"), "challenger": version("2")}

    def resolve(client: object, name: str, alias: str) -> ModelVersion:
        return aliases[alias]

    frame, _ = training_frame()
    expectations = Expectations.from_profile(build_reference_profile(frame, FEATURES, None))
    calls: list[str] = []

    def expect(client: object, v: ModelVersion) -> Expectations | None:
        calls.append(v.version)
        return expectations if v.version == "2" else None

    monkeypatch.setattr(model_cache, "resolve_version", resolve)
    cache = ModelCache(
        None,  # type: ignore[arg-type]
        "churn",
        loader=lambda client, v: loaded_model(v.version),
        expectations_loader=expect,
    )
    assert cache.refresh()
    current = cache.current
    assert current is not None and current.challenger is not None
    assert current.champion.expectations is None
    assert current.challenger.expectations is expectations
    aliases["champion"], aliases["challenger"] = aliases["challenger"], aliases["champion"]
    assert cache.refresh()
    swapped = cache.current
    assert swapped is not None and swapped.challenger is not None
    assert swapped.champion.model.version == "2" and swapped.champion.expectations is expectations
    assert swapped.challenger.expectations is None
    assert sorted(calls) == ["1", "2"]

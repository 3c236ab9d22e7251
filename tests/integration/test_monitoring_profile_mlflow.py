"""The reference profile travels with the model version: logged in the training run, read back
by `churn@champion` (a real SQLite-backed MLflow in a temporary workspace)."""

from __future__ import annotations

from collections.abc import Iterator

import mlflow
import numpy as np
import pandas as pd
import pytest

from keel.core.backends import mlflow_tracking_uri
from keel.core.errors import ModelNotFound
from keel.core.settings import Settings
from monitoring.profile import (
    PROFILE_ARTIFACT,
    build_reference_profile,
    load_reference_profile,
    log_reference_profile,
)
from registry.client import ensure_experiment, mlflow_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, str]]:
    """One workspace: `churn/1` (@champion) logged its profile, `churn/2` (@bare) did not."""
    settings = Settings(home=tmp_path_factory.mktemp("profile-mlflow") / "keel-home")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_tracking_uri(settings))
    client = mlflow_client(settings)
    experiment_id = ensure_experiment(settings, client)
    frame = pd.DataFrame({"plan": ["a", "b"] * 50, "logins_7d": np.arange(100)})
    profile = build_reference_profile(frame, ["plan", "logins_7d"], np.linspace(0, 1, 100))
    client.create_registered_model("churn")
    for alias, with_profile in (("champion", True), ("bare", False)):
        with mlflow.start_run(experiment_id=experiment_id) as run:
            if with_profile:
                log_reference_profile(profile)
        version = client.create_model_version(
            "churn", source=run.info.artifact_uri, run_id=run.info.run_id
        )
        client.set_registered_model_alias("churn", alias, version.version)
    yield settings, profile.to_json()
    mlflow.set_tracking_uri(previous)


def test_profile_logged_in_the_run_is_loaded_through_the_alias(
    registered: tuple[Settings, str],
) -> None:
    settings, logged = registered
    assert load_reference_profile(settings, "churn@champion").to_json() == logged
    assert load_reference_profile(settings, "churn/1").to_json() == logged


def test_a_version_without_a_profile_says_how_to_get_one(registered: tuple[Settings, str]) -> None:
    with pytest.raises(ModelNotFound, match=PROFILE_ARTIFACT) as error:
        load_reference_profile(registered[0], "churn@bare")
    assert "--reference" in str(error.value)


def test_an_unknown_alias_is_a_model_not_found(registered: tuple[Settings, str]) -> None:
    with pytest.raises(ModelNotFound, match="churn@staging"):
        load_reference_profile(registered[0], "churn@staging")

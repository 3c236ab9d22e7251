"""Lineage and comparison of the version the journey trained: every pointer leads to something
that exists, and the comparison scores on the very snapshot training tested on."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow.artifacts
import mlflow.data
import pandas as pd
import pytest

from keel.cli.demo_journey import DemoResult
from keel.core.workspace import Workspace
from keel.feast_plumbing.feature_store import open_store
from registry.client import fluent_tracking, mlflow_client
from registry.compare import compare_versions
from registry.lineage import feature_definitions, feature_definitions_hash, version_lineage
from registry.refs import ModelRef
from synthetic.churn_labels import SnapshotPlan, churn_snapshots
from training.dataset import build_training_frame

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(journey: DemoResult) -> ModelRef:
    return ModelRef(journey.settings.model_name, version=int(journey.training.model_version))


def test_lineage_points_at_the_runs_that_trained_the_version(
    journey: DemoResult, trained: ModelRef
) -> None:
    lineage = version_lineage(journey.settings, trained)
    client = mlflow_client(journey.settings)

    assert lineage.training_run_id == journey.training.parent_run_id
    model_run = client.get_run(str(lineage.model_run_id))
    assert model_run.data.tags["mlflow.parentRunId"] == lineage.training_run_id
    training_run = client.get_run(str(lineage.training_run_id))
    assert lineage.code_commit == training_run.data.tags["keel.code_commit"]
    assert lineage.training_params == training_run.data.params
    assert lineage.gate == ("passed" if journey.training.gate.passed else "failed")
    assert lineage.feature_service == journey.settings.feature_service


def test_lineage_dataset_digest_matches_the_data_it_points_to(
    journey: DemoResult, trained: ModelRef
) -> None:
    (dataset,) = version_lineage(journey.settings, trained).datasets
    if dataset.artifact_uri:
        local = mlflow.artifacts.download_artifacts(artifact_uri=dataset.artifact_uri)
        frame = pd.read_parquet(local)
    else:  # no stored copy: rebuild it from Feast exactly as training did
        raw_dir = Workspace.from_settings(journey.settings).raw_dir
        entities = churn_snapshots(raw_dir, SnapshotPlan())
        frame = build_training_frame(
            open_store(journey.settings), entities, feature_service=journey.settings.feature_service
        ).frame
    assert mlflow.data.from_pandas(frame).digest == dataset.digest
    assert dataset.rows == len(frame)
    assert dataset.context == "training"


def test_feature_definitions_hash_is_stable_and_ignores_where_files_live(
    journey: DemoResult, trained: ModelRef
) -> None:
    store = open_store(journey.settings)
    service = journey.settings.feature_service
    digest = feature_definitions_hash(store, service)

    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert feature_definitions_hash(open_store(journey.settings), service) == digest
    assert str(journey.settings.home) not in str(feature_definitions(store, service))
    lineage = version_lineage(journey.settings, trained)
    assert lineage.current_definitions_hash == digest
    if lineage.feature_definitions_hash is not None:  # tagged by training
        assert lineage.definitions_changed is False


def test_compare_scores_two_versions_on_the_snapshot_training_tested_on(
    journey: DemoResult, trained: ModelRef, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = journey.settings
    client = mlflow_client(settings)
    original = client.get_model_version(trained.name, str(trained.version))
    twin = f"{trained.name}_compare_twin"
    client.create_registered_model(twin)
    with fluent_tracking(client.tracking_uri):  # MLflow resolves `models:/` sources globally
        for _ in range(2):
            client.create_model_version(
                twin, original.source, run_id=original.run_id, tags=dict(original.tags)
            )

    comparison = compare_versions(
        settings, ModelRef(twin, version=1), ModelRef(twin, version=2), out=tmp_path / "pr.png"
    )

    recorded = client.get_run(str(original.run_id)).data.metrics["test_pr_auc"]
    assert comparison.labels == [f"{twin}/1", f"{twin}/2"]
    assert comparison.metrics[f"{twin}/1"] == comparison.metrics[f"{twin}/2"]
    assert comparison.metrics[f"{twin}/1"]["pr_auc"] == pytest.approx(recorded, abs=1e-9)
    assert comparison.rows == int(
        client.get_run(journey.training.parent_run_id).data.params["rows_test"]
    )
    assert comparison.plot.exists() and comparison.plot.stat().st_size > 10_000

"""The whole journey on embedded defaults, checked through real Feast, MLflow and HTTP."""

from __future__ import annotations

import time

import httpx
import pandas as pd
import pytest
from offline_reference import assert_same_features, offline_features

from keel.cli.demo_journey import UNKNOWN_CUSTOMER, DemoResult, sample_customers
from keel.core.provenance import code_commit
from keel.core.workspace import Workspace
from keel.feast_plumbing.feature_store import open_store
from keel.ops.server_process import running_server
from monitoring.profile import load_reference_profile
from registry.client import mlflow_client
from registry.models import CHAMPION
from serving.log_sqlite import SqlitePredictionLog
from serving.online_features import FeastOnlineFeatures
from synthetic.churn_labels import SnapshotPlan, churn_snapshots
from training.labels import TIMESTAMP

pytestmark = pytest.mark.e2e


def test_demo_answers_known_customers_and_404s_the_unknown(journey: DemoResult) -> None:
    statuses = [r["status"] for r in journey.responses]
    assert statuses == [200, 200, 200, 404]
    unknown = journey.responses[-1]
    assert str(UNKNOWN_CUSTOMER) in unknown["detail"]
    for answer in journey.responses[:3]:
        assert 0.0 < answer["churn_probability"] < 1.0
        assert answer["model"] == {
            "name": "churn",
            "version": journey.training.model_version,
            "alias": CHAMPION,
        }


def test_every_answered_prediction_is_in_the_log_with_its_model(journey: DemoResult) -> None:
    champion = mlflow_client(journey.settings).get_model_version_by_alias("churn", CHAMPION)
    log = SqlitePredictionLog(Workspace.from_settings(journey.settings).prediction_log)
    try:
        assert journey.logged_predictions == 3
        for answer in journey.responses[:3]:
            record = log.get(answer["prediction_id"])
            assert record is not None
            assert record.entity == {"customer_id": answer["customer_id"]}
            assert (record.task, record.score) == ("binary", answer["churn_probability"])
            assert (record.model_name, record.model_version, record.model_alias) == (
                "churn",
                journey.training.model_version,
                CHAMPION,
            )
            assert record.run_id == champion.run_id
            assert record.code_commit == code_commit()
            assert set(record.features) == set(journey.training.feature_columns)
            assert record.violations == []  # every feature within the training expectations
    finally:
        log.close()


def test_model_beats_baseline_and_is_champion(journey: DemoResult) -> None:
    training = journey.training
    names = [c.name for c in training.candidates]
    assert names == ["baseline", "one_rule", "logistic_regression", "gradient_boosting"]
    baseline = training.candidates[0]
    model = next(c for c in training.candidates if c.name == training.selected)
    assert training.selected != "baseline"
    assert model.test["pr_auc"] > baseline.test["pr_auc"]
    assert model.test["roc_auc"] > 0.6
    assert training.gate.passed
    assert training.aliases == ["challenger", CHAMPION]
    client = mlflow_client(journey.settings)
    champion = client.get_model_version_by_alias("churn", CHAMPION)
    assert str(champion.version) == training.model_version
    assert champion.tags["keel.gate"] == "passed"


def test_mlflow_holds_feast_lineage_and_the_dataset(journey: DemoResult) -> None:
    client = mlflow_client(journey.settings)
    version = client.get_model_version_by_alias("churn", CHAMPION)
    assert version.tags["feast.feature_service"] == "churn_v1"
    model_run = client.get_run(version.run_id)
    assert model_run.data.tags["feast.feature_service"] == "churn_v1"
    assert model_run.data.tags["keel.generator_seed"] == "7"
    assert model_run.data.tags["keel.code_commit"] == code_commit()
    assert "feast_features.json" in {a.path for a in client.list_artifacts(version.run_id)}
    parent = client.get_run(journey.training.parent_run_id)
    (dataset,) = [d.dataset for d in parent.inputs.dataset_inputs]
    assert dataset.name == "churn_v1-snapshots" and len(dataset.digest) >= 8
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert {"plots/pr_curve_test.png", "plots/roc_curve_test.png"} <= plots


def test_reference_profile_ages_tenure_from_the_last_training_snapshot(
    journey: DemoResult,
) -> None:
    """Training reads the `grows_per_day` tag of Feast's tenure field into the profile, and the
    profile's time is the snapshot it summarises."""
    profile = load_reference_profile(journey.settings, "churn@champion")
    growing = {n: f.grows_per_day for n, f in profile.features.items() if f.grows_per_day}
    assert growing == {"tenure_days": 1.0}
    snapshots = churn_snapshots(Workspace.from_settings(journey.settings).raw_dir, SnapshotPlan())
    last = pd.Timestamp(snapshots[TIMESTAMP].max())
    assert pd.Timestamp(profile.as_of) == last
    assert profile.rows == int((snapshots[TIMESTAMP] == last).sum())


def test_served_features_equal_the_offline_point_in_time_features(journey: DemoResult) -> None:
    settings = journey.settings
    store = open_store(settings)
    online = FeastOnlineFeatures(store, settings.feature_service)
    customers = sample_customers(settings, 25)
    as_of = int(time.time())
    offline = offline_features(store, settings.feature_service, customers, as_of)
    rows = online.get_rows([{"customer_id": c} for c in customers], as_of_unix=as_of)
    for customer, served in zip(customers, rows, strict=True):
        assert served is not None, customer
        assert_same_features(served, offline.loc[customer], served, customer)


def test_server_errors_are_json_naming_the_problem(journey: DemoResult) -> None:
    with running_server(journey.settings) as url, httpx.Client(base_url=url) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        missing = http.post("/v1/predict", json={"customer": 1})
        assert missing.status_code == 422
        assert missing.json()["fields"] == [
            {
                "field": "body",
                "message": "Value error, expected customer_id (one customer) or customers "
                "(a batch), got keys ['customer']",
            }
        ]
        wrong_type = http.post("/v1/predict", json={"customer_id": "abc"})
        assert wrong_type.status_code == 422
        assert wrong_type.json()["fields"][0]["field"] == "customer_id"
        broken = http.post(
            "/v1/predict",
            content=b'{"customer_id": 1',
            headers={"content-type": "application/json"},
        )
        assert broken.status_code == 422
        assert broken.json()["fields"][0]["field"] == "body"
        unknown = http.post("/v1/predict", json={"customer_id": 999_999_999})
        assert unknown.status_code == 404
        assert unknown.json() == {
            "error": "UnknownEntity",
            "detail": "customer_id 999999999 has no online features: unknown customer",
        }

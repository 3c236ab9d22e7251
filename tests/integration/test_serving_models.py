"""One `keel serve` for every model of keel.yaml: a copy of the session's delivery workspace
(`tests/delivery_workspace.py`: applied and materialized with Feast, both models trained with real
MLflow), one real server on it, and a third model in its keel.yaml with no version yet."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.project import load_project
from keel.core.settings import Settings, get_settings
from keel.core.workspace import Workspace
from keel.feast_plumbing.project_checks import open_store
from keel.ops.server_process import server_process
from registry.client import mlflow_client
from registry.models import load_version
from serving.log_sqlite import SqlitePredictionLog
from serving.online_features import stored_feature_names
from tests.delivery_workspace import DeliveryWorkspace, columns, copy_delivery
from training.dataset import normalise_entity_frame

pytestmark = pytest.mark.integration

UNTRAINED = "eta_untrained"
MAX_BATCH = 5


@dataclass(frozen=True)
class Served:
    url: str
    root: Path
    settings: Settings
    orders: pd.DataFrame


@pytest.fixture(scope="module")
def served(
    delivery: DeliveryWorkspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """One server on a copy of the session's delivery workspace, whose keel.yaml lists a third
    model that was never trained."""
    copy = copy_delivery(delivery, tmp_path_factory.mktemp("delivery-serve"), max_batch=MAX_BATCH)
    config = yaml.safe_load(copy.config.read_text())
    config["models"].append({**config["models"][0], "name": UNTRAINED})  # listed, never trained
    copy.config.write_text(yaml.safe_dump(config))
    with mock.patch.dict(os.environ, copy.environ):
        started = server_process(
            copy.settings, log_file=copy.root / "server.log", ready_path="/readyz"
        )
        with started as (url, _):
            yield Served(url, copy.root, copy.settings, copy.orders)


def post(served: Served, model: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{served.url}/v1/models/{model}/predict", json=body, timeout=30)


def logged(served: Served, prediction_id: str) -> Any:
    log = SqlitePredictionLog(Workspace.from_settings(served.settings).prediction_log)
    try:
        return log.get(prediction_id)
    finally:
        log.close()


def test_models_lists_every_model_with_its_interface_task_and_aliases(served: Served) -> None:
    listed = {m["name"]: m for m in httpx.get(f"{served.url}/v1/models").json()["models"]}
    assert list(listed) == ["delivery_minutes", "late_delivery", UNTRAINED]
    eta, late = listed["delivery_minutes"], listed["late_delivery"]
    assert (eta["task"], late["task"]) == ("regression", "binary")
    assert eta["join_keys"] == ["courier_id", "zone_id"]
    assert eta["request_fields"] == ["distance_km", "order_hour"]
    assert eta["feature_service"] == "delivery_eta_v1"
    assert late["feature_service"] == "late_risk_v1"
    assert eta["status"] == "ready" and eta["aliases"]["champion"] is not None
    assert eta["predict_path"] == "/v1/models/delivery_minutes/predict"
    assert listed[UNTRAINED]["status"] == "no champion"
    assert listed[UNTRAINED]["aliases"] == {"champion": None, "challenger": None}
    ready = httpx.get(f"{served.url}/readyz").json()
    assert ready["status"] == "ready"
    assert ready["checks"][f"model.{UNTRAINED}"] == "no champion yet"
    assert ready["checks"]["model.late_delivery"] == "ok"


def test_regression_answers_the_pipelines_prediction_and_logs_it(served: Served) -> None:
    orders = served.orders.iloc[:3]
    answer = post(served, "delivery_minutes", {"entities": columns(orders)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"]["name"] == "delivery_minutes" and body["model"]["alias"] == "champion"
    items = body["predictions"]
    assert [(i["courier_id"], i["zone_id"]) for i in items] == list(
        zip(orders.courier_id, orders.zone_id, strict=True)
    )
    assert all("probability" not in i and "label" not in i for i in items)
    record = logged(served, items[0]["prediction_id"])
    assert record.entity == {"courier_id": items[0]["courier_id"], "zone_id": items[0]["zone_id"]}
    assert (record.task, record.label) == ("regression", None)
    assert record.model_name == "delivery_minutes"
    assert record.score == items[0]["prediction"]
    # The features Feast computes from the request fields, and the pipeline's own prediction.
    store = open_store(load_project(served.root / "keel.yaml"))
    row = {k: v[0] for k, v in columns(orders).items()}
    feast = store.get_online_features(
        features=store.get_feature_service("delivery_eta_v1"), entity_rows=[row]
    ).to_dict()
    assert record.features["distance_x_traffic"] == pytest.approx(feast["distance_x_traffic"][0])
    client = mlflow_client(served.settings)
    version = client.get_model_version("delivery_minutes", body["model"]["version"])
    pipeline = load_version(client, version, alias=None).pipeline
    expected = pipeline.predict(pd.DataFrame([record.features])[pipeline.feature_names_in_])
    assert items[0]["prediction"] == pytest.approx(float(expected[0]), rel=1e-9)


def test_binary_answers_probability_and_label_for_string_keys(served: Served) -> None:
    orders = served.orders.iloc[3:7]
    answer = post(served, "late_delivery", {"entities": columns(orders)})
    assert answer.status_code == 200, answer.text
    items = answer.json()["predictions"]
    assert len(items) == 4
    for item in items:
        assert 0.0 <= item["probability"] <= 1.0 and item["label"] in (0, 1)
        assert "prediction" not in item
        record = logged(served, item["prediction_id"])
        assert (record.task, record.model_name) == ("binary", "late_delivery")
        assert (record.score, record.label) == (item["probability"], item["label"])


def test_keel_score_scores_a_keel_yaml_model_point_in_time_and_logs_it(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`keel score --model`: join keys and request fields in; the keys, the score named by the
    task and the error out; each score the pipeline's on Feast's point-in-time features, logged;
    an entity Feast has nothing for as of that time is an error row."""
    keys = ["courier_id", "zone_id"]
    recent = served.orders.sort_values("event_timestamp", ascending=False).drop_duplicates(keys)
    nobody = {
        "courier_id": ["nobody"],
        "zone_id": ["z-99"],
        "distance_km": [1.0],
        "order_hour": [9],
    }
    entities = pd.concat(
        [recent.iloc[:6][[*keys, "distance_km", "order_hour"]], pd.DataFrame(nobody)],
        ignore_index=True,
    )
    source = tmp_path / "orders.parquet"
    entities.to_parquet(source)
    as_of = served.orders["event_timestamp"].max().floor("s")
    store = open_store(load_project(served.root / "keel.yaml"))
    offline = store.get_historical_features(
        entity_df=normalise_entity_frame(entities.assign(event_timestamp=as_of)),
        features=store.get_feature_service("delivery_eta_v1"),
    ).to_df()
    service = store.get_feature_service("delivery_eta_v1")
    stored = offline[stored_feature_names(store, service)].notna().any(axis=1)
    found = set(zip(offline.courier_id[stored], offline.zone_id[stored], strict=True))
    known = [(c, z) in found for c, z in zip(entities.courier_id, entities.zone_id, strict=True)]
    assert sum(known) >= 2 and not known[-1]  # the file store leaves out what is past its TTL
    monkeypatch.setenv("KEEL_CONFIG", str(served.root / "keel.yaml"))
    monkeypatch.setenv("KEEL_HOME", str(served.settings.home))
    get_settings.cache_clear()
    try:
        outputs = {}
        for model in ("delivery_minutes", "late_delivery", "no_such_model"):
            outputs[model] = tmp_path / f"{model}.parquet"
            result = CliRunner().invoke(
                app,
                [
                    *("score", "--model", model, "--input", str(source)),
                    *("--as-of", as_of.isoformat(), "--output", str(outputs[model])),
                ],
            )
            assert result.exit_code == (2 if model == "no_such_model" else 0), result.output
    finally:
        get_settings.cache_clear()
    assert "no model 'no_such_model'" in result.output
    eta = pd.read_parquet(outputs["delivery_minutes"])
    tail = ["model_name", "model_version", "as_of", "error"]
    assert list(eta.columns) == [*keys, "prediction_id", "prediction", *tail]
    assert eta[keys].values.tolist() == entities[keys].values.tolist()
    assert eta["error"].isna().tolist() == known
    assert eta["error"].iloc[-1] == "unknown entity: no features as of this time"
    late = pd.read_parquet(outputs["late_delivery"])
    assert list(late.columns) == [*keys, "prediction_id", "probability", "label", *tail]
    answered = late[late["error"].isna()]
    assert len(answered) >= 1 and answered["label"].isin([0, 1]).all()

    client = mlflow_client(served.settings)
    version = client.get_model_version("delivery_minutes", eta["model_version"].iloc[0])
    pipeline = load_version(client, version, alias=None).pipeline
    scored = eta[eta["error"].isna()]
    rows = offline.set_index(keys).loc[pd.MultiIndex.from_frame(scored[keys])]
    expected = pipeline.predict(rows[pipeline.feature_names_in_])
    assert scored["prediction"].to_numpy() == pytest.approx(expected, rel=1e-9)
    for row in scored.itertuples():
        record = logged(served, row.prediction_id)
        assert record.entity == {"courier_id": row.courier_id, "zone_id": row.zone_id}
        assert (record.task, record.score) == ("regression", row.prediction)
        assert record.request_id.startswith("batch:")


def test_unknown_entities_are_404_items_and_all_unknown_a_404(served: Served) -> None:
    known = columns(served.orders.iloc[:1])
    unknown = {"courier_id": ["nobody"], "zone_id": ["z-99"], "distance_km": [1.0]}
    mixed = {k: known[k] + unknown.get(k, [3]) for k in known}
    answer = post(served, "late_delivery", {"entities": mixed})
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["predictions"]
    assert "probability" in first
    assert (second["status"], second["error"]) == (404, "UnknownEntity")
    assert (second["courier_id"], second["zone_id"]) == ("nobody", "z-99")
    assert "courier_id 'nobody'" in second["detail"]
    alone = {k: v[1:] for k, v in mixed.items()}
    missing = post(served, "delivery_minutes", {"entities": alone})
    assert missing.status_code == 404 and missing.json()["error"] == "UnknownEntity"
    twice = {k: v[1:] * 2 for k, v in mixed.items()}
    assert post(served, "delivery_minutes", {"entities": twice}).status_code == 404


def test_bad_requests_name_the_field_and_unknown_models_are_404(served: Served) -> None:
    good = columns(served.orders.iloc[:2])
    no_field = {k: v for k, v in good.items() if k != "distance_km"}
    refused = post(served, "delivery_minutes", {"entities": no_field})
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("entities.distance_km is missing")
    no_key = {k: v for k, v in good.items() if k != "zone_id"}
    assert "entities.zone_id" in post(served, "late_delivery", {"entities": no_key}).text
    uneven = {**good, "order_hour": [1]}
    refused = post(served, "delivery_minutes", {"entities": uneven})
    assert refused.status_code == 422 and "same number of values" in refused.json()["detail"]
    typed = {**good, "courier_id": [1, 2]}
    refused = post(served, "delivery_minutes", {"entities": typed})
    assert refused.status_code == 422 and "entities.courier_id[0]" in refused.json()["detail"]
    many = columns(served.orders.iloc[: MAX_BATCH + 1])
    too_many = post(served, "delivery_minutes", {"entities": many})
    assert too_many.status_code == 413 and "KEEL_MAX_BATCH" in too_many.json()["detail"]
    unknown = post(served, "no_such_model", {"entities": good})
    assert unknown.status_code == 404 and "delivery_minutes" in unknown.json()["detail"]
    not_ready = post(served, UNTRAINED, {"entities": good})
    assert not_ready.status_code == 503 and not_ready.json()["error"] == "ModelNotReady"
    churn = httpx.post(f"{served.url}/v1/predict", json={"customer_id": 1})
    assert churn.status_code == 404 and "served models" in churn.json()["detail"]


def test_metrics_label_versions_and_predictions_by_model(served: Served) -> None:
    for model in ("late_delivery", "delivery_minutes"):
        answer = post(served, model, {"entities": columns(served.orders.iloc[:1])})
        assert answer.status_code == 200, answer.text
    text = httpx.get(f"{served.url}/metrics").text
    for model in ("late_delivery", "delivery_minutes"):
        assert f'keel_model_version{{alias="champion",model="{model}"}}' in text
        counted = [
            line
            for line in text.splitlines()
            if line.startswith(f'keel_predictions_total{{model="{model}"')
        ]
        assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 1, model
    spec = httpx.get(f"{served.url}/openapi.json").json()
    links = spec["paths"]["/v1/models/{model}/predict"]["post"]["responses"]["200"]["links"]
    assert links["FeedbackOnPrediction"]["operationId"] == "feedback_v1_feedback_post"


def test_features_serve_any_service_of_the_project_repo(served: Served) -> None:
    body = {"feature_service": "late_risk_v1", "entities": columns(served.orders.iloc[:2])}
    answer = httpx.post(f"{served.url}/v1/features", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    names = answer.json()["metadata"]["feature_names"]
    assert {"courier_id", "zone_id", "distance_x_traffic"} <= set(names)


def keel(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    """The `keel` CLI on the served workspace and its keel.yaml, as a user runs it."""
    env = {
        **os.environ,
        "KEEL_HOME": str(served.settings.home),
        "KEEL_CONFIG": str(served.root / "keel.yaml"),
    }
    command = [str(Path(sys.executable).parent / "keel"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_feedback_then_monitoring_per_model_on_the_served_log(served: Served) -> None:
    """The journey's last steps: outcomes for both tasks through the API (a number for the
    regression, 0/1 for the binary model), then live performance and drift per model from the
    log this server wrote."""
    orders = served.orders.iloc[10:14]
    eta = post(served, "delivery_minutes", {"entities": columns(orders)}).json()["predictions"]
    late = post(served, "late_delivery", {"entities": columns(orders)}).json()["predictions"]
    at = "2026-12-01T12:00:00Z"

    def feedback(prediction_id: str, outcome: float) -> httpx.Response:
        body = {"prediction_id": prediction_id, "outcome": outcome, "observed_at": at}
        return httpx.post(f"{served.url}/v1/feedback", json=body, timeout=30)

    for item, minutes in zip(eta, orders.delivery_minutes, strict=True):
        answer = feedback(item["prediction_id"], float(minutes))
        assert answer.status_code == 200 and answer.json()["status"] == "recorded", answer.text
    refused = feedback(late[0]["prediction_id"], 0.5)
    assert refused.status_code == 422 and "outcome" in refused.json()["detail"]
    assert feedback(late[0]["prediction_id"], 1).json()["outcome"] == 1

    performance = keel(served, "monitor", "performance", "--model", "delivery_minutes@champion")
    assert performance.returncode == 0, performance.stderr
    assert "MAE" in performance.stdout and "too few labels" in performance.stdout
    drift = keel(
        served, "monitor", "drift", "--model", "late_delivery@champion", "--current", "log:all"
    )
    assert drift.returncode == 0, drift.stderr
    assert "too few rows" in drift.stdout  # a handful of answers: no verdict, said so
    erased = keel(
        served,
        "predictions",
        "forget",
        "--entity",
        f"courier_id={eta[0]['courier_id']}",
        "--entity",
        f"zone_id={eta[0]['zone_id']}",
        "--model",
        "delivery_minutes",
    )
    assert erased.returncode == 0, erased.stderr
    assert logged(served, eta[0]["prediction_id"]) is None
    assert logged(served, late[0]["prediction_id"]) is not None  # another model's: kept

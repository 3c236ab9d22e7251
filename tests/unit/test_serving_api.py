"""The HTTP contract of `create_app`, on an in-memory runtime: answers, logging, errors, auth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving_fakes import (
    FEATURES,
    BatchPredictResponse,
    FakeModels,
    PredictResponse,
    fake_runtime,
    loaded_model,
    training_frame,
)

from keel.core.errors import InsecureConfiguration
from keel.core.settings import Settings
from monitoring.profile import build_reference_profile
from monitoring.validation import Expectations
from serving.app import create_app
from serving.model_cache import ModelSet, ServedModel
from serving.predictor import challenger_bucket

TOKENS = "p" * 16 + "=predict," + "f" * 16 + "=feedback," + "a" * 16 + "=admin+predict"
AUTH = {"authorization": "Bearer " + "a" * 16}


@pytest.fixture
def serve(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[Callable[..., tuple[TestClient, Any]]]:
    runtimes: list[Any] = []

    def make(models: FakeModels | None = None, **overrides: object) -> tuple[TestClient, Any]:
        settings = make_settings(**overrides)
        app = create_app(settings)
        runtime = fake_runtime(
            settings, models or FakeModels(loaded_model("1")), tmp_path, app.state.metrics
        )
        app.state.runtime = runtime
        runtimes.append(runtime)
        return TestClient(app, raise_server_exceptions=False), runtime

    yield make
    for runtime in runtimes:
        runtime.close()


def test_one_customer_is_answered_with_label_model_and_a_logged_record(serve: Any) -> None:
    client, runtime = serve(FakeModels(loaded_model("1", threshold="0.0")))
    answer = client.post("/v1/predict", json={"customer_id": 5}, headers={"x-request-id": "r1"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert PredictResponse.model_validate(body).model_dump(exclude_none=True) == body
    assert body["model"] == {"name": "churn", "version": "1", "alias": "champion"}
    assert body["label"] == 1  # threshold 0.0 from the version's tag
    assert "missing_features" not in body
    record = runtime.log.get(body["prediction_id"])
    assert record.score == body["churn_probability"]
    assert record.request_id == "r1"
    assert record.features == {"plan": "premium", "logins_7d": 5, "spend_30d": 5.0}


def test_request_id_longer_than_documented_is_refused_naming_the_header(serve: Any) -> None:
    client, runtime = serve()
    longest = "r" * 128
    kept = client.post("/v1/predict", json={"customer_id": 5}, headers={"x-request-id": longest})
    assert runtime.log.get(kept.json()["prediction_id"]).request_id == longest
    refused = client.post(
        "/v1/predict", json={"customer_id": 5}, headers={"x-request-id": "r" * 129}
    )
    assert refused.status_code == 422
    assert refused.json()["fields"][0]["field"] == "header.x-request-id"
    schema = client.get("/openapi.json").json()["paths"]["/v1/predict"]["post"]["parameters"]
    assert (
        schema[0]["name"] == "x-request-id" and schema[0]["schema"]["anyOf"][0]["maxLength"] == 128
    )


def test_missing_features_are_named_and_explanations_sum_to_the_log_odds(serve: Any) -> None:
    client, _ = serve()
    body = client.post("/v1/predict", json={"customer_id": 13, "explain": True}).json()
    assert body["missing_features"] == ["logins_7d"]
    assert {c["feature"] for c in body["explanation"]} <= {"plan", "logins_7d", "spend_30d"}


def test_a_batch_answers_in_order_with_per_item_errors_for_unknown_customers(
    serve: Any,
) -> None:
    client, runtime = serve()
    body = client.post("/v1/predict", json={"customers": [3, 5000, 4]}).json()
    assert BatchPredictResponse.model_validate(body).model_dump(exclude_none=True) == body
    first, unknown, last = body["predictions"]
    assert (first["customer_id"], last["customer_id"]) == (3, 4)
    assert unknown == {
        "customer_id": 5000,
        "error": "UnknownEntity",
        "detail": "customer_id 5000 has no online features: unknown customer",
        "status": 404,
    }
    assert runtime.log.count() == 2


def test_unknown_single_customer_is_a_404_and_nothing_is_logged(serve: Any) -> None:
    client, runtime = serve()
    answer = client.post("/v1/predict", json={"customer_id": 5000})
    assert answer.status_code == 404
    assert answer.json()["error"] == "UnknownEntity"
    assert runtime.log.count() == 0


def test_challenger_serves_its_sticky_share_and_shadow_is_logged_not_returned(
    serve: Any,
) -> None:
    models = FakeModels(loaded_model("1"), loaded_model("2"))
    client, runtime = serve(models, challenger_share=0.5, shadow=True)
    customers = list(range(1, 41))
    body = client.post("/v1/predict", json={"customers": customers}).json()
    aliases = [p["model"]["alias"] for p in body["predictions"]]
    expected = ["challenger" if challenger_bucket(c, 0.5) else "champion" for c in customers]
    assert aliases == expected
    assert "challenger" in aliases and "champion" in aliases
    served_by_champion = aliases.count("champion")
    assert runtime.log.count() == len(customers) + served_by_champion
    roles = [row[0] for row in runtime.log.query("SELECT served_by FROM predictions")]
    assert roles.count("shadow") == served_by_champion


def test_feedback_is_recorded_once_and_unknown_ids_are_404(serve: Any) -> None:
    client, _ = serve()
    prediction_id = client.post("/v1/predict", json={"customer_id": 2}).json()["prediction_id"]
    feedback = {"prediction_id": prediction_id, "outcome": 1, "observed_at": "2026-11-30T10:00Z"}
    first = client.post("/v1/feedback", json=feedback)
    assert first.status_code == 200 and first.json()["status"] == "recorded"
    again = client.post("/v1/feedback", json=feedback)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    changed = client.post("/v1/feedback", json={**feedback, "outcome": 0})
    assert changed.status_code == 409
    unknown = client.post("/v1/feedback", json={**feedback, "prediction_id": "01NOPE"})
    assert unknown.status_code == 404
    assert "01NOPE" in unknown.json()["detail"]


def test_feedback_is_checked_against_the_task_of_the_prediction(serve: Any) -> None:
    client, runtime = serve()
    binary = client.post("/v1/predict", json={"customer_id": 3}).json()["prediction_id"]
    base = {"prediction_id": binary, "observed_at": "2026-11-30T10:00Z"}
    half = client.post("/v1/feedback", json={**base, "outcome": 0.5})
    assert half.status_code == 422, half.text
    assert half.json()["error"] == "InvalidInput"
    assert half.json()["detail"].startswith("outcome: ") and "binary" in half.json()["detail"]
    for odd in (True, "1", None):
        refused = client.post("/v1/feedback", json={**base, "outcome": odd})
        assert refused.status_code == 422 and "outcome" in refused.json()["detail"], odd
    assert runtime.log.feedback(binary) is None
    one = client.post("/v1/feedback", json={**base, "outcome": 1.0})
    assert one.status_code == 200 and '"outcome":1,' in one.text  # an int, as before

    minutes = replace(
        runtime.log.get(binary),
        prediction_id="01REGRESSION",
        model_name="delivery_minutes",
        entity={"courier_id": "c-1", "zone_id": "z-9"},
        task="regression",
        score=31.5,
        label=None,
    )
    runtime.log.append([minutes])
    observed = {"prediction_id": "01REGRESSION", "observed_at": "2026-11-30T10:00Z"}
    recorded = client.post("/v1/feedback", json={**observed, "outcome": 28.75})
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["outcome"] == 28.75 and recorded.json()["status"] == "recorded"
    again = client.post("/v1/feedback", json={**observed, "outcome": 28.75})
    assert again.json()["status"] == "unchanged"
    assert client.post("/v1/feedback", json={**observed, "outcome": 30}).status_code == 409


def test_limits_refuse_big_bodies_and_batches_with_json_naming_the_limit(serve: Any) -> None:
    client, _ = serve(max_batch=10, max_body_bytes=2048)
    too_many = client.post("/v1/predict", json={"customers": list(range(1, 12))})
    assert too_many.status_code == 413
    assert "KEEL_MAX_BATCH" in too_many.json()["detail"]
    too_big = client.post("/v1/predict", json={"customers": list(range(1, 2000))})
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "PayloadTooLarge"


BAD_BODIES: list[tuple[Any, str]] = [
    ({}, "body"),
    ({"customer_id": 1, "customers": [2]}, "body"),
    ({"customer_id": 0}, "customer_id"),
    ({"customer_id": 2**63}, "customer_id"),
    ({"customer_id": "abc"}, "customer_id"),
    ({"customer_id": 1.5}, "customer_id"),
    ({"customers": []}, "customers"),
    ({"customers": [1, None]}, "customers.1"),
    ({"customer_id": 1, "as_of_unix": -1}, "as_of_unix"),
    ({"customer_id": 1, "as_of_unix": 10**15}, "as_of_unix"),
    ({"customer_id": 1, "explain": "maybe"}, "explain"),
    ({"customer_id": 1, "extra": 1}, "extra"),
    ([1, 2], "body"),
    ("text", "body"),
    (None, "body"),
]


@pytest.mark.parametrize(("payload", "field"), BAD_BODIES)
def test_every_bad_predict_body_is_a_4xx_json_naming_the_field(
    serve: Any, payload: Any, field: str
) -> None:
    client, _ = serve()
    answer = client.post("/v1/predict", json=payload)
    assert 400 <= answer.status_code < 500, answer.text
    body = answer.json()
    assert body["error"] and field in body["detail"]


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("post", "/v1/feedback", {"prediction_id": "x", "outcome": 2, "observed_at": "now"}),
        ("post", "/v1/feedback", {"prediction_id": "x", "outcome": 1, "observed_at": "2026-01-01"}),
        ("post", "/v1/features", {"entities": {"customer_id": [1]}}),
        ("post", "/v1/features", {"entities": {"a": [1], "b": [1, 2]}, "features": ["x:y"]}),
        ("get", "/v1/predict", None),
        ("post", "/nowhere", {}),
    ],
)
def test_other_bad_requests_are_json_4xx(serve: Any, method: str, path: str, payload: Any) -> None:
    client, _ = serve()
    answer = client.request(method, path, json=payload)
    assert 400 <= answer.status_code < 500, answer.text
    assert set(answer.json()) >= {"error", "detail"}


def test_tokens_gate_each_endpoint_by_scope(serve: Any) -> None:
    client, _ = serve(api_tokens=TOKENS)
    none = client.post("/v1/predict", json={"customer_id": 1})
    assert none.status_code == 401 and none.json()["error"] == "Unauthorized"
    wrong = client.post(
        "/v1/predict", json={"customer_id": 1}, headers={"authorization": "Bearer " + "x" * 16}
    )
    assert wrong.status_code == 401
    feedback_only = {"authorization": "Bearer " + "f" * 16}
    forbidden = client.post("/v1/predict", json={"customer_id": 1}, headers=feedback_only)
    assert forbidden.status_code == 403 and "predict" in forbidden.json()["detail"]
    assert (
        client.post("/admin/reload", headers={"authorization": "Bearer " + "p" * 16}).status_code
        == 403
    )
    assert client.post("/v1/predict", json={"customer_id": 1}, headers=AUTH).status_code == 200
    assert client.post("/admin/reload", headers=AUTH).json()["champion"]["version"] == "1"
    assert client.get("/healthz").status_code == 200


def test_production_refuses_to_serve_without_tokens(make_settings: Any) -> None:
    with pytest.raises(InsecureConfiguration, match="KEEL_API_TOKENS"):
        create_app(make_settings(profile="production"))
    with pytest.raises(InsecureConfiguration, match="16 characters"):
        create_app(make_settings(api_tokens="short=predict"))


def test_metrics_count_requests_and_predictions_by_version(
    in_process_metrics: None, serve: Any
) -> None:
    client, _ = serve()
    client.post("/v1/predict", json={"customer_id": 1})
    text = client.get("/metrics").text
    assert 'keel_http_requests_total{route="/v1/predict",status="200"} 1.0' in text
    assert 'keel_predictions_total{model="churn",served_by="champion",version="1"} 1.0' in text


def narrow_expectations() -> Expectations:
    """A profile trained without the premium plan and with at most 9 logins (max 9.9 allowed)."""
    frame, _ = training_frame()
    frame = frame[frame["plan"] != "premium"].assign(logins_7d=lambda f: f["logins_7d"] % 10)
    return Expectations.from_profile(build_reference_profile(frame, FEATURES, None))


def test_rows_breaking_the_profile_are_answered_flagged_in_the_log_and_counted(
    in_process_metrics: None, serve: Any
) -> None:
    models = FakeModels(loaded_model("1"))
    champion = ServedModel.of(models.current.champion.model, narrow_expectations())
    models.current = ModelSet(champion, None)
    client, runtime = serve(models)
    # 3: basic, 3 logins; 19: standard, 19 logins; 29: premium, 29 logins (FakeFeatures)
    body = client.post("/v1/predict", json={"customers": [3, 19, 29]}).json()
    assert all("prediction_id" in p for p in body["predictions"]), body
    one = client.post("/v1/predict", json={"customer_id": 29})
    assert one.status_code == 200, one.text
    ids = [p["prediction_id"] for p in body["predictions"]] + [one.json()["prediction_id"]]
    flagged = [runtime.log.get(i).violations for i in ids]
    assert flagged == [[], ["logins_7d"], ["logins_7d", "plan"], ["logins_7d", "plan"]]
    text = client.get("/metrics").text
    counter = 'keel_feature_violations_total{{feature="{}",model="churn",version="1"}} {}'
    assert counter.format("logins_7d", "3.0") in text
    assert counter.format("plan", "2.0") in text
    assert 'feature="spend_30d"' not in text


def test_a_version_without_a_profile_serves_unchecked_and_metrics_show_the_process(
    in_process_metrics: None, serve: Any
) -> None:
    client, runtime = serve()  # FakeModels: no expectations, like versions trained before them
    answer = client.post("/v1/predict", json={"customer_id": 29})
    assert answer.status_code == 200, answer.text
    assert runtime.log.get(answer.json()["prediction_id"]).violations is None
    text = client.get("/metrics").text
    assert "keel_feature_violations_total{" not in text
    assert "\nprocess_resident_memory_bytes " in text
    assert "\nprocess_cpu_seconds_total " in text

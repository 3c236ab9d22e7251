"""The real app over the journey workspace, in process: no input makes it answer 5xx (every
operation of /openapi.json gets random and mutated bodies, a small stand-in for a schemathesis
run), and `/v1/features` answers in Feast's `get-online-features` shape."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from serving_process import copy_workspace

from keel.cli.demo_journey import DemoResult
from registry.aliases import move_alias
from registry.client import fluent_tracking, mlflow_client
from serving import ops_routes
from serving.app import create_app

pytestmark = pytest.mark.e2e

VALID: dict[str, dict[str, Any]] = {
    "/v1/predict": {"customer_id": 1, "explain": True, "as_of_unix": 1_790_000_000},
    "/v1/features": {
        "feature_service": "churn_v1",
        "entities": {"customer_id": [1, 2], "as_of_unix": [1_790_000_000] * 2},
    },
    "/v1/feedback": {"prediction_id": "01X", "outcome": 1, "observed_at": "2026-11-30T00:00Z"},
}
ODD: list[Any] = [
    None, True, 0, -1, 2**63, -(2**64), 1e308, -0.0, "", "x" * 5000, "é\u0000🙂", [], [None],
    {}, {"a": {"b": [1]}}, [1] * 2000, "2026-13-45T99:00Z", "customer_id", ["customer_id"],
]  # fmt: skip


def mutations(body: dict[str, Any], rng: random.Random) -> list[Any]:
    out: list[Any] = [rng.choice(ODD) for _ in range(10)]
    for key in body:
        for odd in ODD:
            out.append({**body, key: odd})
            out.append({k: v for k, v in body.items() if k != key})
        if isinstance(body[key], dict):
            for inner in body[key]:
                for odd in rng.sample(ODD, 8):
                    out.append({**body, key: {**body[key], inner: odd}})
                    out.append({**body, key: {**body[key], str(odd)[:20]: [1]}})
    out.append({**body, "unexpected": 1})
    return out


def test_no_generated_request_gets_a_server_error(journey: DemoResult, tmp_path: Path) -> None:
    settings = copy_workspace(journey.settings, tmp_path / "home")
    rng = random.Random(6)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        schema = client.get("/openapi.json").json()
        posts = [path for path, ops in schema["paths"].items() if "post" in ops]
        assert set(VALID) <= set(posts)
        bad: list[str] = []
        for path in posts:
            bodies = mutations(VALID.get(path, {}), rng)
            raw = [b"{", b"\xff\xfe", b'{"customer_id": 1}' * 3, b"[" * 5000]
            for body in bodies + raw:
                content = body if isinstance(body, bytes) else json.dumps(body).encode()
                answer = client.post(
                    path, content=content, headers={"content-type": "application/json"}
                )
                if answer.status_code >= 500 and answer.status_code != 503:
                    bad.append(f"{path} {content[:120]!r} -> {answer.status_code} {answer.text}")
                elif answer.status_code >= 400:
                    error = answer.json()
                    if not (error.get("error") and error.get("detail")):
                        bad.append(f"{path} {content[:120]!r} -> unnamed error {error}")
        assert not bad, "\n".join(bad[:10])


def test_features_endpoint_answers_in_feasts_get_online_features_shape(
    journey: DemoResult, tmp_path: Path
) -> None:
    settings = copy_workspace(journey.settings, tmp_path / "home")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz").json()
        checks = {"model": "ok", "registry": "ok", "online_store": "ok", "prediction_log": "ok"}
        assert ready["status"] == "ready"
        assert {k: v for k, v in ready["checks"].items() if k != "scoring"} == checks
        assert ready["checks"]["scoring"].startswith("champion v")
        body = {
            "feature_service": "churn_v1",
            "entities": {"customer_id": [1, 10**12], "as_of_unix": [1_790_000_000] * 2},
        }
        answer = client.post("/v1/features", json=body)
        assert answer.status_code == 200, answer.text
        content = answer.json()
        names = content["metadata"]["feature_names"]
        assert names[0] == "customer_id" and {"plan", "tenure_days"} <= set(names)
        assert len(content["results"]) == len(names)
        by_name = dict(zip(names, content["results"], strict=True))
        assert by_name["customer_id"]["values"] == [1, 10**12]
        assert by_name["plan"]["statuses"] == ["PRESENT", "NOT_FOUND"]
        unknown = client.post("/v1/features", json={**body, "feature_service": "nope"})
        assert unknown.status_code == 404 and "feature_service" in unknown.json()["detail"]


def test_features_without_the_on_demand_request_field_is_a_422_saying_how_to_send_it(
    journey: DemoResult, tmp_path: Path
) -> None:
    settings = copy_workspace(journey.settings, tmp_path / "home")
    with TestClient(create_app(settings)) as client:
        for selection in (
            {"feature_service": "churn_v1"},
            {"features": ["customer_profile:plan", "customer_derived:tenure_days"]},
        ):
            body = {**selection, "entities": {"customer_id": [1, 2]}}
            answer = client.post("/v1/features", json=body)
            assert answer.status_code == 422, answer.text
            error = answer.json()
            assert error["error"] == "InvalidInput"
            detail = error["detail"]
            assert detail.startswith("entities.as_of_unix is missing"), detail
            assert "on-demand feature view customer_derived" in detail
            assert "Scoring time, Unix seconds" in detail
            assert '"entities": {"customer_id": [1, 2], "as_of_unix": [' in detail
            # Sent as the message says, the same request is answered.
            sent = {**selection, "entities": {"customer_id": [1, 2], "as_of_unix": [1] * 2}}
            assert client.post("/v1/features", json=sent).status_code == 200
        # Views without request-time inputs need no such field.
        plain = {"features": ["customer_profile:plan"], "entities": {"customer_id": [1]}}
        assert client.post("/v1/features", json=plain).status_code == 200


def served_alias_versions(client: TestClient) -> dict[str, float]:
    """`keel_model_version` of `/metrics`, by alias."""
    text = client.get("/metrics").text
    return {
        sample.labels["alias"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "keel_model_version"
        for sample in family.samples
    }


def test_metrics_name_the_challengers_version_also_when_it_is_the_champions(
    journey: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = copy_workspace(journey.settings, tmp_path / "home")
    settled: list[None] = []  # a reload that loads a version freezes the heap again
    monkeypatch.setattr(ops_routes, "settle_heap", lambda: settled.append(None))
    name = settings.model_name
    registry = mlflow_client(settings)
    champion = registry.get_model_version_by_alias(name, "champion")
    challenger = registry.get_model_version_by_alias(name, "challenger")
    assert challenger.version == champion.version  # the journey's one version holds both
    with TestClient(create_app(settings)) as client:
        first = float(champion.version)
        assert served_alias_versions(client) == {"champion": first, "challenger": first}

        with fluent_tracking(registry.tracking_uri):  # MLflow resolves models:/ globally
            second = registry.create_model_version(name, champion.source, run_id=champion.run_id)
        move_alias(settings, name=name, alias="challenger", version=second.version, reason="A/B")
        reloaded = client.post("/admin/reload").json()
        assert reloaded["challenger"]["version"] == str(second.version)
        assert len(settled) == 1
        client.post("/admin/reload")  # nothing changed: nothing to freeze
        assert len(settled) == 1
        assert served_alias_versions(client) == {
            "champion": first,
            "challenger": float(second.version),
        }

"""The serving hot path: `PredictLane` answers the prediction routes past FastAPI's dispatch
exactly as FastAPI's own dispatch does, for good requests and bad ones (and good ones really
skip it); what the server builds after start-up leaves the cycle collector's scans."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from serving_process import copy_workspace

from keel.cli.demo_journey import DemoResult
from serving import app as app_module
from serving import routes
from serving.app import create_app

pytestmark = pytest.mark.e2e

UNKNOWN = 10**12
LONG_ID = {"x-request-id": "r" * 129}
REQUESTS: list[tuple[str, Any, dict[str, str], bool]] = [
    # (path, body, headers, taken by the lane)
    ("/v1/predict", {"customer_id": 1}, {}, True),
    ("/v1/predict", {"customers": [1, 2, 3]}, {"x-request-id": "lane-1"}, True),
    ("/v1/predict", {"customers": [1, UNKNOWN]}, {}, True),
    ("/v1/predict", {"customer_id": UNKNOWN}, {}, True),  # the endpoint raises: 404
    ("/v1/predict", {"customer_id": 2, "as_of_unix": 1_790_000_000}, {}, True),
    ("/v1/predict", {"customers": list(range(1, 1_100))}, {}, True),  # over KEEL_MAX_BATCH: 413
    ("/v1/predict", {"customer_id": 1}, LONG_ID, True),  # the endpoint's header check: 422
    ("/v1/predict", {"customer_id": 1, "explain": True}, {}, True),  # linear models only
    ("/v1/predict", {"customer_id": "1"}, {}, False),
    ("/v1/predict", {"customer_id": 1, "customers": [1]}, {}, False),
    ("/v1/predict", {}, {}, False),
    ("/v1/predict", None, {}, False),
    ("/v1/predict", [1], {}, False),
    ("/v1/predict", b"{", {}, False),
    ("/v1/predict", b"", {}, False),
    ("/v1/models/churn/predict", {"entities": {"customer_id": [1, 2]}}, {}, True),
    ("/v1/models/churn/predict", {"entities": {"customer_id": [UNKNOWN]}}, {}, True),
    ("/v1/models/nope/predict", {"entities": {"customer_id": [1]}}, {}, True),  # 404
    ("/v1/models/churn/predict", {"entities": {"customer_id": "1"}}, {}, False),
    ("/v1/models/churn/predict", {"entity": {}}, {}, False),
]


def _stable(value: Any) -> Any:
    """An answer without what differs between two calls (new prediction ids)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k != "prediction_id"}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


Request = tuple[str, Any, dict[str, str], bool]


def _answers(client: TestClient, requests: list[Request]) -> list[tuple[int, Any]]:
    out = []
    for path, body, headers, _ in requests:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        answer = client.post(
            path, content=content, headers={"content-type": "application/json", **headers}
        )
        out.append((answer.status_code, _stable(answer.json())))
    return out


def test_the_lane_answers_as_fastapi_does_and_skips_its_dispatch(
    journey: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = copy_workspace(journey.settings, tmp_path / "home")
    handled: Counter[str] = Counter()
    handle = APIRoute.handle

    async def counted(self: APIRoute, scope: Any, receive: Any, send: Any) -> None:
        handled[scope["path"]] += 1
        await handle(self, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", counted)
    with TestClient(create_app(settings)) as client:
        taken: list[bool] = []
        lane = []
        for request in REQUESTS:
            before = sum(handled.values())
            lane += _answers(client, [request])
            taken.append(sum(handled.values()) == before)
        metrics = client.get("/metrics").text  # a route with a path parameter is one label
        assert (
            'keel_http_requests_total{route="/v1/models/{model}/predict",status="200"}' in metrics
        )
    with monkeypatch.context() as patched:
        patched.setattr(routes, "lane_routes", lambda routers: [])
        with TestClient(create_app(settings)) as client:
            fastapi = _answers(client, REQUESTS)
    assert taken == [expected for *_, expected in REQUESTS]
    statuses = [status for status, _ in lane]
    assert statuses[:7] == [200, 200, 200, 404, 200, 413, 422], lane[:7]
    assert set(statuses[8:15]) == {422}
    for request, ours, theirs in zip(REQUESTS, lane, fastapi, strict=True):
        assert ours == theirs, (request[:2], ours, theirs)


def test_objects_of_the_background_imports_leave_the_collectors_scans(
    journey: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the server builds after it is ready (the imports a new version's pipeline needs) is
    frozen too: full collections under load scan only what requests allocate."""
    settings = copy_workspace(journey.settings, tmp_path / "home")
    imported: list[list[int]] = []
    done = threading.Event()

    def prepare() -> None:  # stands in for imports: many long-lived tracked objects
        imported.extend([n] for n in range(50_000))
        done.set()

    monkeypatch.setattr(app_module, "prepare_pipeline_loading", prepare)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        assert done.wait(10)
        assert all(gc.is_tracked(o) for o in imported[::5_000])
        deadline = time.monotonic() + 10
        while _scanned(imported[::5_000]):
            assert time.monotonic() < deadline, "the imports' objects are still scanned"
            time.sleep(0.05)


def _scanned(objects: list[list[int]]) -> bool:
    """Whether any of `objects` is in a generation the cycle collector scans (not frozen)."""
    tracked = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
    return any(id(o) in tracked for o in objects)

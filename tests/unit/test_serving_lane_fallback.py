"""`PredictLane` on its own (no `LimitsAndMetrics` in front): it calls the declared endpoint
only with a body FastAPI would accept, and hands everything else, body included, to the app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from keel.core.errors import NotFound
from keel.core.settings import Settings
from serving.auth import TokenAuth
from serving.errors import install_error_handlers
from serving.predict_lane import LaneRoute, PredictLane

JSON = [(b"content-type", b"application/json")]


class Body(BaseModel):
    n: int = Field(strict=True, ge=0)


def _lane() -> tuple[PredictLane, list[bytes]]:
    app = FastAPI()
    install_error_handlers(app)
    app.state.auth = TokenAuth(Settings())  # no tokens: every request is allowed

    @app.post("/v1/models/{model}/predict")
    async def predict(model: str, request: Request, body: Body) -> JSONResponse:
        if body.n == 404:
            raise NotFound(f"{model}: no such thing")
        return JSONResponse({"model": model, "n": body.n})

    (route,) = [r for r in app.routes if isinstance(r, APIRoute)]
    passed: list[bytes] = []

    async def fastapi(scope: Any, receive: Any, send: Any) -> None:
        passed.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return PredictLane(fastapi, fastapi=app, routes=[LaneRoute(route, "predict")]), passed


def _post(lane: PredictLane, path: str, body: bytes, headers: list[Any]) -> tuple[int, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers,
             "query_string": b"", "root_path": ""}  # fmt: skip
    asyncio.run(lane(scope, receive, send))
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(data) if data else None


def test_a_body_fastapi_accepts_reaches_the_endpoint_with_its_path_parameters() -> None:
    lane, passed = _lane()
    assert _post(lane, "/v1/models/churn/predict", b'{"n": 3}', JSON) == (
        200,
        {"model": "churn", "n": 3},
    )
    status, error = _post(lane, "/v1/models/churn/predict", b'{"n": 404}', JSON)
    assert (status, error["error"]) == (404, "NotFound")  # the app's own handler
    assert passed == []


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/v1/models/churn/predict", b'{"n": "3"}', JSON),  # strict: not an int
        ("/v1/models/churn/predict", b'{"n": -1}', JSON),
        ("/v1/models/churn/predict", b"[" * 5_000, JSON),  # too deep for Python's parser
        ("/v1/models/churn/predict", b"{", JSON),
        ("/v1/models/churn/predict", b"null", JSON),
        ("/v1/models/churn/predict", b'{"n": 3}', [(b"content-type", b"text/plain")]),
        ("/v1/models/churn/predict", b'{"n": 3}', []),  # FastAPI reads no JSON without a type
        ("/v1/models/churn/predict/", b'{"n": 3}', JSON),  # not the route's path
        ("/v1/models/a/b/predict", b'{"n": 3}', JSON),
    ],
)
def test_anything_else_goes_to_fastapi_with_its_body(
    path: str, body: bytes, headers: list[Any]
) -> None:
    lane, passed = _lane()
    assert _post(lane, path, body, headers) == (299, None)
    assert passed == [body]

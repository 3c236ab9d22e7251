"""One ASGI middleware for every request: the body size limit and the request metrics."""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.metrics import Metrics


class _TooLarge(Exception):
    pass


class LimitsAndMetrics:
    """Refuses bodies over `max_body_bytes` with a JSON 413; times every request by route."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics, routes: set[str]):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = scope["path"] if scope["path"] in self.routes else "other"
        status = {"code": 500}
        sent = {"started": False}

        async def send_tracking(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                sent["started"] = True
            await send(message)

        declared = _content_length(scope)
        try:
            if declared is not None and declared > self.max_body_bytes:
                raise _TooLarge
            await self.app(scope, self._limited(receive), send_tracking)
        except _TooLarge:
            if sent["started"]:
                raise
            await self._too_large(send_tracking)
        self.metrics.requests.labels(route, str(status["code"])).inc()
        self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    def _limited(self, receive: Receive) -> Receive:
        seen = {"bytes": 0}

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > self.max_body_bytes:
                    raise _TooLarge
            return message

        return wrapped

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": "PayloadTooLarge",
                "detail": f"request body exceeds {self.max_body_bytes} bytes (KEEL_MAX_BODY_BYTES)",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

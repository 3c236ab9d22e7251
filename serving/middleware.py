"""One ASGI middleware for every request: the body checks and the request metrics.

Before a route sees a body it is read whole (at most `max_body_bytes`, else a JSON 413, whether
the client declared a Content-Length or streamed it chunked), must be declared JSON (else 415),
and may nest at most `MAX_JSON_DEPTH` arrays/objects (else 422): Python's parser would otherwise
recurse until `RecursionError` on a body like `[[[[...]]]]`.
"""

from __future__ import annotations

import json
import re
import time

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.metrics import Metrics

MAX_JSON_DEPTH = 32
"""Our request bodies nest 3 levels; 32 leaves room and stays far below the recursion limit."""
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class LimitsAndMetrics:
    """Refuses oversized, non-JSON and too deeply nested bodies with JSON 4xx answers; times
    every request by route (a route with path parameters is one route)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics, routes: set[str]):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.routes = routes
        self._templates = [(compile_path(path)[0], path) for path in sorted(routes) if "{" in path]

    def _route(self, path: str) -> str:
        """The route `path` belongs to, as declared (`/v1/models/{model}/predict`: one metrics
        label for every model), or "other"."""
        if path in self.routes:
            return path
        for pattern, template in self._templates:
            if pattern.match(path):
                return template
        return "other"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = self._route(scope["path"])
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
            if scope["method"] in _BODY_METHODS and route != "other":
                body = await self._read_body(receive)
                problem = _body_problem(scope, body)
                if problem is not None:
                    await _reject(send_tracking, *problem)
                else:
                    whole = {"type": "http.request", "body": body, "more_body": False}
                    await self.app(scope, replay(whole, receive), send_tracking)
            else:
                await self.app(scope, self._limited(receive), send_tracking)
        except _TooLarge:
            if sent["started"]:
                raise
            await _reject(
                send_tracking,
                413,
                "PayloadTooLarge",
                f"request body exceeds {self.max_body_bytes} bytes (KEEL_MAX_BODY_BYTES)",
            )
        except _Disconnected:
            status["code"] = 499  # the client went away before sending its whole body
        self.metrics.requests.labels(route, str(status["code"])).inc()
        self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

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


def declared_json(scope: Scope) -> bool:
    """Whether the request declares a JSON body (`application/json` or `...+json`)."""
    media_type = _header(scope, b"content-type").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _body_problem(scope: Scope, body: bytes) -> tuple[int, str, str] | None:
    """(status, error, detail) when the body must not reach the route, else None."""
    if not body:
        return None  # the route's validation names the missing body
    content_type = _header(scope, b"content-type")
    if not declared_json(scope):
        return (
            415,
            "UnsupportedMediaType",
            f"Content-Type: expected application/json, got {content_type or 'none'!r}",
        )
    if _too_deep(body, MAX_JSON_DEPTH):
        return (
            422,
            "InvalidRequest",
            f"body: JSON nested deeper than {MAX_JSON_DEPTH} arrays/objects",
        )
    return None


def _too_deep(body: bytes, limit: int) -> bool:
    """Whether `body` nests more than `limit` arrays/objects (brackets in strings ignored)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case, decided in C
    depth = 0
    for token in _JSON_TOKENS.finditer(body):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif bracket in (b"]", b"}"):
            depth -= 1
    return False


def replay(first: Message, receive: Receive) -> Receive:
    """A `receive` that hands the app `first` (an already-read event), then the client's later
    events."""
    pending = [first]

    async def wrapped() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return wrapped


async def _reject(send: Send, status: int, error: str, detail: str) -> None:
    payload: dict[str, object] = {"error": error, "detail": detail}
    if status == 422:
        payload["fields"] = [{"field": "body", "message": detail.removeprefix("body: ")}]
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return ""


def _content_length(scope: Scope) -> int | None:
    try:
        return int(_header(scope, b"content-length"))
    except ValueError:
        return None

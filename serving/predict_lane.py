"""A short lane to the prediction endpoint for requests FastAPI would accept as they are.

FastAPI's dispatch (its exception, exit-stack, telemetry and body-limit middlewares, routing
through the included routers, dependency solving) cost about 50 µs of a prediction request on a
2-vCPU machine: a sixth of a request's CPU at c=8. `PredictLane` sits inside `LimitsAndMetrics`
(so limits and metrics stay as they are) and sends a `POST` of a served prediction route
straight to the endpoint FastAPI declared for it, with the body validated by the same pydantic
model and errors answered by the app's own exception handlers. Anything it does not take
exactly as FastAPI would (a body not declared JSON, or that fails to parse or validate, a
missing or refused token, another method or path) goes through FastAPI unchanged, so its error
answers stay FastAPI's; what the endpoint itself raises is answered by the handler FastAPI
would pick. OpenAPI, documentation and every other route are FastAPI's.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from keel.core.errors import KeelError
from serving.auth import Scope as TokenScope
from serving.auth import TokenAuth
from serving.middleware import declared_json, replay


@dataclass(frozen=True)
class LaneRoute:
    """One prediction route FastAPI declared, and the token scope it requires."""

    route: APIRoute
    scope: TokenScope

    def match(self, path: str) -> dict[str, Any] | None:
        """The path parameters when `path` is this route's (Starlette's own matching)."""
        found = self.route.path_regex.match(path)
        if found is None:
            return None
        convertors = self.route.param_convertors
        return {name: convertors[name].convert(v) for name, v in found.groupdict().items()}


class PredictLane:
    """Takes the POSTs of `routes` past FastAPI's dispatch (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, fastapi: FastAPI, routes: Sequence[LaneRoute]):
        self.app = app
        self.fastapi = fastapi
        self.routes = tuple(routes)

    def _route(self, scope: Scope) -> tuple[LaneRoute, dict[str, Any]] | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        for lane in self.routes:
            params = lane.match(scope["path"])
            if params is not None:
                return lane, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._route(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        route, params = found
        message = await receive()
        body = message.get("body", b"") if message["type"] == "http.request" else None
        replayed = replay(message, receive)
        if body is None or message.get("more_body", False):
            await self.app(scope, replayed, send)  # LimitsAndMetrics hands bodies whole
            return
        request = Request({**scope, "app": self.fastapi, "path_params": params}, replayed)
        parsed = self._accepted(request, route, body)
        if parsed is None:
            await self.app(scope, replayed, send)
            return
        try:
            response = await route.route.endpoint(request=request, body=parsed, **params)
        except Exception as error:
            handler = _handler(self.fastapi, error)
            if handler is None:
                raise
            response = await handler(request, error)
        await response(scope, replayed, send)

    def _accepted(self, request: Request, route: LaneRoute, body: bytes) -> Any | None:
        """The body validated by the route's own body field (as FastAPI validates it) when
        FastAPI would call the endpoint with it, else None."""
        if not declared_json(request.scope):
            return None  # FastAPI would not read the body as JSON
        auth: TokenAuth = self.fastapi.state.auth
        try:
            auth.check(request.headers.get("authorization"), route.scope)
        except KeelError:  # FastAPI's dependency answers 401 or 403
            return None
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested too deep for the parser
            return None
        field = route.route.body_field
        if field is None or value is None:
            return None
        parsed, errors = field.validate(value, {}, loc=("body",))
        return None if errors else parsed


def _handler(
    app: FastAPI, error: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    """The app's exception handler for `error`, looked up along its class's MRO as
    Starlette's `ExceptionMiddleware` does."""
    handlers: dict[Any, Any] = app.exception_handlers
    for kind in type(error).__mro__:
        if kind in handlers:
            handler: Callable[[Request, Exception], Awaitable[Response]] = handlers[kind]
            return handler
    return None

"""One place that turns errors into JSON bodies naming the problem (never a traceback)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from keel.core.errors import KeelError
from serving.online_features import STORE_DOWN_ERRORS, store_unavailable

RETRY_AFTER_S = 1
"""`Retry-After` of every 503: the outage (online store, log, registry, no model) may be over
by then; clients should back off further on repeated 503s."""


def _field(location: tuple[object, ...] | list[object]) -> str:
    return ".".join(str(part) for part in location if part != "body") or "body"


async def keel_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, KeelError)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if error.status_code == 503 else None
    return JSONResponse(
        status_code=error.status_code,
        content={"error": type(error).__name__, "detail": error.message},
        headers=headers,
    )


async def online_store_error(request: Request, error: Exception) -> JSONResponse:
    """A Redis error that reached a route unwrapped (Feast's own reads): 503, not 500."""
    return await keel_error(request, store_unavailable("Feast online store", error))


async def validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"field": "body", "message": f"invalid JSON at character {e['loc'][-1]}"}
        if e.get("type") == "json_invalid"
        else {"field": _field(e.get("loc", ())), "message": e.get("msg", "invalid")}
        for e in error.errors()
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse(
        status_code=422,
        content={"error": "InvalidRequest", "detail": summary, "fields": problems},
    )


async def http_error(_: Request, error: Exception) -> JSONResponse:
    """Routing errors (unknown path, wrong method) in the same JSON shape."""
    assert isinstance(error, HTTPException)
    name = {404: "NotFound", 405: "MethodNotAllowed"}.get(error.status_code, "HTTPError")
    return JSONResponse(
        status_code=error.status_code,
        content={"error": name, "detail": str(error.detail)},
        headers=error.headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KeelError, keel_error)
    for kind in STORE_DOWN_ERRORS:
        app.add_exception_handler(kind, online_store_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)

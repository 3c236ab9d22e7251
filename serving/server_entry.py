"""The app factory uvicorn's worker processes import (`keel serve --workers N`).

It turns off typeguard's instrumentation of Feast (`feast_import`) before `serving.app`, and
with it Feast, is imported: each worker starts as fast as the single-process server.
"""

from __future__ import annotations

from fastapi import FastAPI

from keel.feast_plumbing.feast_import import skip_typeguard_instrumentation


def worker_app() -> FastAPI:
    """`create_app` on the process settings, Feast imported without typeguard's instrumentation."""
    skip_typeguard_instrumentation()
    from serving.app import app_from_environment

    return app_from_environment()

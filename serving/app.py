"""The serving API, built by `create_app(settings)`.

Routes: `POST /v1/predict`, `POST /v1/features`, `POST /v1/feedback`, `GET /healthz`,
`GET /readyz`, `GET /metrics`, `POST /admin/reload`; OpenAPI at `/openapi.json`. The models are
loaded at start-up and follow their aliases every `KEEL_RELOAD_INTERVAL` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from keel.settings import Settings
from serving import ops_routes, routes
from serving.auth import TokenAuth
from serving.errors import install_error_handlers
from serving.metrics import Metrics
from serving.middleware import LimitsAndMetrics
from serving.runtime import Runtime


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app; refuses unsafe settings (production without tokens) at once."""
    auth = TokenAuth(settings)
    metrics = Metrics(process_metrics=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await asyncio.to_thread(Runtime.start, settings, metrics)
        app.state.runtime = runtime
        gc.collect()
        gc.freeze()  # start-up objects (models, registry) leave the GC's scans: shorter pauses
        follower = asyncio.create_task(runtime.follow_aliases())
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            runtime.close()

    app = FastAPI(title="Keel serving API", version="0.2.0", lifespan=lifespan)
    app.state.auth = auth
    app.state.metrics = metrics
    install_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(ops_routes.router)
    paths = {getattr(r, "path", "") for r in [*routes.router.routes, *ops_routes.router.routes]}
    app.add_middleware(
        LimitsAndMetrics,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
        routes=paths,
    )
    return app


def app_from_environment() -> FastAPI:
    """`create_app` on the process settings: the factory uvicorn's worker processes import."""
    from keel.settings import get_settings

    return create_app(get_settings())

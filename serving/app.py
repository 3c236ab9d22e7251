"""The serving API, built by `create_app(settings)`.

Routes: `POST /v1/predict` (the default model's short route, `settings.keyed_route`),
`GET /v1/models`, `POST /v1/models/{model}/predict` (every served model), `POST /v1/features`,
`POST /v1/feedback`, `GET /healthz`, `GET /readyz`, `GET /metrics`, `POST /admin/reload`;
OpenAPI at `/openapi.json`, with links from a prediction's `prediction_id` to the feedback body
(clients and stateful testers follow them).
`/docs` (Swagger UI) and `/redoc` load their scripts and styles from this server
(`fastapi-offline` bundles them), so they work on a machine without internet.
The models are loaded at start-up and follow their aliases every `KEEL_RELOAD_INTERVAL` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from keel.core.settings import Settings
from serving import ops_routes, routes
from serving.auth import TokenAuth
from serving.errors import install_error_handlers
from serving.heap import settle_heap
from serving.metrics import Metrics
from serving.middleware import LimitsAndMetrics
from serving.model_files_cache import prepare_pipeline_loading
from serving.predict_lane import PredictLane
from serving.runtime import Runtime

DOCS_ASSETS_URL = "/docs-assets"
"""Where Swagger UI's and ReDoc's bundled scripts, styles and icon are served."""


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app; refuses unsafe settings (production without tokens) at once."""
    auth = TokenAuth(settings)
    metrics = Metrics(process_metrics=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await asyncio.to_thread(Runtime.start, settings, metrics)
        app.state.runtime = runtime
        settle_heap()  # start-up objects (models, registry) leave the GC's scans
        follower = asyncio.create_task(runtime.follow_aliases())
        # Ready without scikit-learn/skops/MLflow's loader; imported now, off the start-up path.
        preparing = asyncio.create_task(_prepare_pipeline_loading())
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            with contextlib.suppress(Exception):
                await preparing
            runtime.close()

    app = FastAPIOffline(
        title="Keel serving API",
        version="0.2.0",
        lifespan=lifespan,
        static_url=DOCS_ASSETS_URL,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )
    app.state.auth = auth
    app.state.metrics = metrics
    install_error_handlers(app)
    routers = [routes.keyed_router(settings.keyed_route), routes.router, ops_routes.router]
    for router in routers:
        app.include_router(router)
    paths = {getattr(r, "path", "") for router in routers for r in router.routes}
    app.add_middleware(PredictLane, fastapi=app, routes=routes.lane_routes(routers))
    app.add_middleware(  # added last: outside the lane
        LimitsAndMetrics,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
        routes=paths,
    )
    _document_links_and_body_errors(app)
    return app


async def _prepare_pipeline_loading() -> None:
    """The background imports, then their objects leave the GC's scans too (without this,
    each full collection under load paused every request for 65-70 ms)."""
    await asyncio.to_thread(prepare_pipeline_loading)
    settle_heap()


def _document_links_and_body_errors(app: FastAPI) -> None:
    """Extend the generated OpenAPI: the predict → feedback link, and the 415 every JSON body
    route can answer (from `LimitsAndMetrics`, before routing)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            error = {"$ref": "#/components/schemas/ErrorBody"}
            for operations in schema["paths"].values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault(
                            "415",
                            {
                                "description": "Body not declared application/json",
                                "content": {"application/json": {"schema": error}},
                            },
                        )
            feedback = schema["paths"]["/v1/feedback"]["post"]["operationId"]
            predicted = schema["paths"]["/v1/predict"]["post"]["responses"]["200"]
            predicted["links"] = {
                "FeedbackOnPrediction": {
                    "operationId": feedback,
                    "requestBody": {"prediction_id": "$response.body#/prediction_id"},
                    "description": "Send the observed outcome of this prediction.",
                }
            }
            by_model = schema["paths"]["/v1/models/{model}/predict"]["post"]["responses"]["200"]
            by_model["links"] = {
                "FeedbackOnPrediction": {
                    "operationId": feedback,
                    "requestBody": {"prediction_id": "$response.body#/predictions/0/prediction_id"},
                    "description": "Send the observed outcome of the first prediction.",
                }
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_environment() -> FastAPI:
    """`create_app` on the process settings: the factory uvicorn's worker processes import."""
    from keel.core.settings import get_settings

    return create_app(get_settings())

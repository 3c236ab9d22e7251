"""Operations routes: liveness, readiness, Prometheus metrics, and the model reload."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from keel.errors import KeelError
from serving.auth import require
from serving.routes import ERRORS, RuntimeDep
from serving.schemas import Health, ModelRef, ModelsResponse, Readiness

router = APIRouter()
REQUIRED_CHECKS = ("model", "online_store", "prediction_log")


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready when a model is loaded, the online store answers and the prediction log can take
    records. `registry` is reported, not required: a server serving its cached champion while
    MLflow is down is ready (it answers with a known version and follows the alias once the
    registry is back). So is `scoring`: each served version's path (`treelite`, `numpy-linear`,
    ..., or `sklearn` with the reason its fast path was not used)."""
    models = runtime.predictor.models.current
    checks = {
        "model": "ok" if models else "no model loaded",
        "registry": runtime.registry_status,
    }
    try:
        await asyncio.to_thread(runtime.predictor.features.get_many, [1])
        checks["online_store"] = "ok"
    except KeelError as error:
        checks["online_store"] = error.message
    except Exception as error:
        checks["online_store"] = f"unreachable: {type(error).__name__}: {error}"
    checks["prediction_log"] = runtime.log_problem() or "ok"
    if models:  # reported, not required: a version the fast path cannot serve uses sklearn
        checks["scoring"] = models.scoring()
    ready = all(checks[name] == "ok" for name in REQUIRED_CHECKS)
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(status_code=200 if ready else 503, content=body.model_dump())


@router.get("/metrics", response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text format."""
    body = runtime.metrics.exposition(workers=runtime.settings.workers)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.post(
    "/admin/reload",
    response_model=ModelsResponse,
    responses=ERRORS,
    dependencies=[Depends(require("admin"))],
)
async def reload(runtime: RuntimeDep) -> ModelsResponse:
    """Follow the `champion` and `challenger` aliases now instead of at the next interval."""
    changed = await asyncio.to_thread(runtime.reload)
    models = runtime.predictor.model_set()

    def ref(alias: str, served: object) -> ModelRef | None:
        if served is None:
            return None
        model = served.model  # type: ignore[attr-defined]
        return ModelRef(name=model.name, version=model.version, alias=alias)

    champion = ref("champion", models.champion)
    assert champion is not None
    return ModelsResponse(
        champion=champion, challenger=ref("challenger", models.challenger), changed=changed
    )

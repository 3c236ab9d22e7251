"""Operations routes: liveness, readiness, Prometheus metrics, and the model reload."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from keel.core.errors import KeelError
from serving.auth import require
from serving.heap import settle_heap
from serving.model_service import Interface
from serving.routes import ERRORS, RuntimeDep
from serving.schemas import Health, ModelRef, ModelsResponse, Readiness

router = APIRouter()
REQUIRED_CHECKS = ("model", "online_store", "prediction_log")
PROBE_VALUES = {"String": "", "Float32": 0.0, "Float64": 0.0, "Bool": False}


def probe_entity(interface: Interface) -> dict[str, object]:
    """An entity of the right types (none need exist) to ask the online store whether it
    answers: 1 for an integer, "" for a string, 0 for a float."""
    fields = {**interface.join_keys, **interface.request_fields}
    return {name: PROBE_VALUES.get(dtype, 1) for name, dtype in fields.items()}


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready when a model is loaded (`model.<name>`: each model of keel.yaml), every model's
    online features answer and the prediction log can take
    records. `registry` is reported, not required: a server serving its cached champion while
    MLflow is down is ready (it answers with a known version and follows the alias once the
    registry is back). So is `scoring`: each served version's path (`treelite`, `numpy-linear`,
    ..., or `sklearn` with the reason its fast path was not used)."""
    served = runtime.models
    loaded = {name: model.predictor.models.current for name, model in served.items()}
    checks = {
        "model": "ok" if any(loaded.values()) else "no model loaded",
        "registry": runtime.registry_status,
    }
    try:
        for model in served.values():
            probe = probe_entity(model.registry_interface)
            await asyncio.to_thread(model.predictor.features.get_rows, [probe])
        checks["online_store"] = "ok"
    except KeelError as error:
        checks["online_store"] = error.message
    except Exception as error:
        checks["online_store"] = f"unreachable: {type(error).__name__}: {error}"
    checks["prediction_log"] = runtime.log_problem() or "ok"
    if len(served) == 1:
        (models,) = loaded.values()
        if models:  # reported, not required: a version the fast path cannot serve uses sklearn
            checks["scoring"] = models.scoring()
    else:  # each model, reported: one without a champion yet answers 503 until it has one
        for name, models in loaded.items():
            checks[f"model.{name}"] = "ok" if models else "no champion yet"
            if models:
                checks[f"scoring.{name}"] = models.scoring()
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
    """Follow every model's `champion` and `challenger` aliases now instead of at the next
    interval; answers for the default model (`KEEL_MODEL_NAME`, else the first served)."""
    changed = await asyncio.to_thread(runtime.reload)
    if changed:
        settle_heap()  # the new version's objects leave the GC's scans
    default = runtime.models.get(runtime.settings.model_name) or next(iter(runtime.models.values()))
    models = default.predictor.model_set()

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

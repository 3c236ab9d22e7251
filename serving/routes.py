"""Prediction, feature and feedback routes: parse, call one domain function, shape the answer.

`POST /v1/predict` is a model's short route (`keyed_router`: one id or a batch of ids, in the
names of its `KeyedRoute`; the built-in example's without a keel.yaml);
`POST /v1/models/{model}/predict` any served model, in Feast's columnar request shape;
`GET /v1/models` lists the served models and what their requests hold."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from keel.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, UnknownEntity
from keel.core.settings import KeyedRoute
from serving.auth import require
from serving.entity_request import entity_rows
from serving.features_api import online_features_response
from serving.json_response import FastJSONResponse
from serving.keyed_bodies import KeyedRequest, keyed_bodies
from serving.model_service import ModelService
from serving.predict_lane import LaneRoute
from serving.prediction_log import Feedback, PredictionRecord
from serving.predictor import ItemError, Prediction
from serving.runtime import KEYED_PATH, Runtime
from serving.schemas import (
    ErrorBody,
    FeaturesRequest,
    FeedbackRequest,
    FeedbackResponse,
    ModelPredictRequest,
    ModelPredictResponse,
    ServedModelInfo,
    ServedModels,
)

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 413, 422, 503)
}


async def get_runtime(request: Request) -> Runtime:
    """Async on purpose: FastAPI runs sync dependencies in a thread pool (a hop per request)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
REQUEST_ID_MAX = 128
REQUEST_ID_PARAMETER = {  # exactly what FastAPI generated for `Header(max_length=128)`
    "name": "x-request-id",
    "in": "header",
    "required": False,
    "schema": {
        "anyOf": [{"type": "string", "maxLength": REQUEST_ID_MAX}, {"type": "null"}],
        "title": "X-Request-Id",
    },
}


def _request_id(request: Request) -> str | None:
    """The `X-Request-Id` header, checked as FastAPI would check a declared header. Read by
    hand on the prediction route: FastAPI's per-request parameter solving cost about 5% of a
    prediction's CPU (py-spy under the soak)."""
    value = request.headers.get("x-request-id")
    if value is not None and len(value) > REQUEST_ID_MAX:
        raise RequestValidationError(
            [
                {
                    "loc": ("header", "x-request-id"),
                    "msg": f"String should have at most {REQUEST_ID_MAX} characters",
                    "type": "string_too_long",
                }
            ]
        )
    return value


def keyed_router(route: KeyedRoute) -> APIRouter:
    """`POST /v1/predict` for `route`: its bodies built now, named as the route says."""
    bodies = keyed_bodies(route)
    key, batch_field, score_field = route.key, route.batch_field, route.score_field

    def answer(prediction: Prediction) -> dict[str, Any]:
        """An answer body as a plain dict (built directly: the hot path skips re-validation)."""
        record = prediction.record
        body: dict[str, Any] = {
            "prediction_id": record.prediction_id,
            key: record.entity[key],
            score_field: record.score,
            "label": record.label,
            "model": {
                "name": record.model_name,
                "version": record.model_version,
                "alias": record.model_alias,
            },
        }
        if prediction.missing_features:
            body["missing_features"] = prediction.missing_features
        if prediction.explanation is not None:
            body["explanation"] = [
                {"feature": f, "contribution": c} for f, c in prediction.explanation
            ]
        return body

    def item_error(item: ItemError) -> dict[str, Any]:
        """An item error body as a plain dict."""
        return {
            key: item.entity[key],
            "error": type(item.error).__name__,
            "detail": item.error.message,
            "status": item.error.status_code,
        }

    async def predict(request: Request, body: KeyedRequest) -> JSONResponse:
        # Runtime and request id are read here, not declared: the hot path skips solving them.
        runtime: Runtime = request.app.state.runtime
        x_request_id = _request_id(request)
        one = body.key_value()
        ids = [one] if one is not None else body.batch_values() or []
        if len(ids) > runtime.settings.max_batch:
            raise PayloadTooLarge(
                f"{batch_field}: {len(ids)} {batch_field}, at most {runtime.settings.max_batch} "
                "per request (KEEL_MAX_BATCH)"
            )
        entities = [{key: value} for value in ids]
        answers = await _scored(
            runtime, runtime.default, entities, body.as_of_unix, body.explain, x_request_id
        )
        if one is not None:
            (only,) = answers
            if isinstance(only, ItemError):
                raise only.error
            return FastJSONResponse(answer(only))
        return FastJSONResponse(
            {
                "predictions": [
                    answer(a) if isinstance(a, Prediction) else item_error(a) for a in answers
                ]
            }
        )

    predict.__annotations__["body"] = bodies.request  # FastAPI reads the body model from here
    score = score_field.replace("_", " ").capitalize()
    router = APIRouter()
    router.add_api_route(
        KEYED_PATH,
        predict,
        methods=["POST"],
        response_model=bodies.answer | bodies.batch,
        response_model_exclude_none=True,
        responses=ERRORS,
        dependencies=[Depends(require("predict"))],
        openapi_extra={"parameters": [REQUEST_ID_PARAMETER]},
        description=f"{score} of one {route.noun} or a batch; every answer is logged before it "
        "is sent.",
    )
    return router


LANE_PATHS = (KEYED_PATH, "/v1/models/{model}/predict")
"""The prediction routes `PredictLane` takes past FastAPI's dispatch."""


def lane_routes(routers: list[APIRouter]) -> list[LaneRoute]:
    """The routes of `LANE_PATHS` among `routers` (each requires the `predict` scope)."""
    return [
        LaneRoute(route, "predict")
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.path in LANE_PATHS
    ]


async def _scored(
    runtime: Runtime,
    model: ModelService,
    entities: list[dict[str, Any]],
    as_of_unix: int | None,
    explain: bool,
    request_id: str | None,
) -> list[Prediction | ItemError]:
    """The model's answers for `entities`, durable in the log once this returns."""
    if as_of_unix is None and not explain:
        return await model.batcher.predict(entities, request_id=request_id)
    scored = model.predictor.predict(
        entities, as_of_unix=as_of_unix, explain=explain, request_id=request_id
    )
    await runtime.commit(scored.records)
    return scored.answers


def _ref(record: PredictionRecord) -> dict[str, Any]:
    return {"name": record.model_name, "version": record.model_version, "alias": record.model_alias}


def _model_answer(prediction: Prediction, champion: dict[str, Any]) -> dict[str, Any]:
    """A `ModelPrediction` as a plain dict: join keys, then the task's outputs."""
    record = prediction.record
    body: dict[str, Any] = {**record.entity, "prediction_id": record.prediction_id}
    if record.task == "binary":
        body["probability"] = record.score
        body["label"] = record.label
    else:
        body["prediction"] = record.score
    if _ref(record) != champion:
        body["model"] = _ref(record)
    if prediction.missing_features:
        body["missing_features"] = prediction.missing_features
    if prediction.explanation is not None:
        body["explanation"] = [{"feature": f, "contribution": c} for f, c in prediction.explanation]
    return body


def _model_item_error(item: ItemError) -> dict[str, Any]:
    return {
        **item.entity,
        "error": type(item.error).__name__,
        "detail": item.error.message,
        "status": item.error.status_code,
    }


@router.get("/v1/models", response_model=ServedModels, dependencies=[Depends(require("predict"))])
async def models(runtime: RuntimeDep) -> ServedModels:
    """Every served model: its aliases and versions, feature service, join keys, request fields,
    task and scoring path."""
    listed = []
    for name, model in runtime.models.items():
        current = model.predictor.models.current
        interface = model.interface
        task = model.task
        if task is None and runtime.project is not None:
            task = runtime.project.model(name).task
        listed.append(
            ServedModelInfo(
                name=name,
                status="ready" if current is not None else "no champion",
                aliases=current.versions() if current else {"champion": None, "challenger": None},
                feature_service=interface.service,
                join_keys=list(interface.join_keys),
                request_fields=list(interface.request_fields),
                task=task,  # type: ignore[arg-type]
                scoring=current.scoring() if current else None,
                predict_path=model.route,
            )
        )
    return ServedModels(models=listed)


@router.post(
    "/v1/models/{model}/predict",
    response_model=ModelPredictResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    dependencies=[Depends(require("predict"))],
    openapi_extra={"parameters": [REQUEST_ID_PARAMETER]},
)
async def predict_model(model: str, request: Request, body: ModelPredictRequest) -> JSONResponse:
    """Score entities of `model` (Feast's request shape: join keys and request fields as
    columns); every answer is logged before it is sent. An unknown entity's item has `error`
    and `status` 404; when every entity is unknown the answer is a 404."""
    runtime: Runtime = request.app.state.runtime
    x_request_id = _request_id(request)
    served = runtime.model(model)
    entities = entity_rows(
        model, served.interface, body.entities, max_rows=runtime.settings.max_batch
    )
    champion = served.predictor.model_set().champion.model
    answers = await _scored(runtime, served, entities, body.as_of_unix, body.explain, x_request_id)
    if not any(isinstance(answer, Prediction) for answer in answers):
        errors = [a.error for a in answers if isinstance(a, ItemError)]
        if len(errors) == 1:
            raise errors[0]
        raise UnknownEntity(
            f"entities: none of the {len(errors)} entities has online features "
            f"({errors[0].message}; ...)"
        )
    ref = {"name": champion.name, "version": champion.version, "alias": champion.alias}
    return FastJSONResponse(
        {
            "model": ref,
            "predictions": [
                _model_answer(a, ref) if isinstance(a, Prediction) else _model_item_error(a)
                for a in answers
            ],
        }
    )


@router.post("/v1/features", responses=ERRORS, dependencies=[Depends(require("predict"))])
async def features(body: FeaturesRequest, runtime: RuntimeDep) -> JSONResponse:
    """Online features, same request and response shapes as Feast's `/get-online-features`."""
    lengths = {len(values) for values in body.entities.values()}
    if len(lengths) > 1:
        raise InvalidInput("entities: every key needs the same number of values")
    if lengths and max(lengths) > runtime.settings.max_batch:
        raise PayloadTooLarge(
            f"entities: at most {runtime.settings.max_batch} rows per request (KEEL_MAX_BATCH)"
        )
    content = await run_in_threadpool(online_features_response, runtime.store, body)
    return JSONResponse(content=content)


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    responses=ERRORS,
    dependencies=[Depends(require("feedback"))],
)
async def feedback(body: FeedbackRequest, runtime: RuntimeDep) -> FeedbackResponse:
    """Record the observed outcome of a prediction; repeating the same feedback is harmless."""
    result = await runtime.log.record_feedback(
        Feedback(body.prediction_id, body.outcome, body.observed_at)
    )
    if result.status == "invalid":
        raise InvalidInput(f"outcome: {result.reason}")
    if result.status == "unknown" or result.recorded is None:
        raise NotFound(f"prediction_id {body.prediction_id!r}: no such prediction in the log")
    held = result.recorded
    if result.status == "conflict":
        raise Conflict(
            f"prediction_id {body.prediction_id!r} already has outcome {held.outcome} observed "
            f"at {held.observed_at.isoformat()}; feedback is recorded once"
        )
    return FeedbackResponse(
        prediction_id=held.prediction_id,
        outcome=held.outcome,
        observed_at=held.observed_at,
        status="recorded" if result.status == "recorded" else "unchanged",
    )

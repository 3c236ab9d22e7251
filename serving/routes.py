"""Prediction, feature and feedback routes: parse, call one domain function, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from keel.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from serving.auth import require
from serving.features_api import online_features_response
from serving.prediction_log import Feedback
from serving.predictor import ItemError, Prediction
from serving.runtime import Runtime
from serving.schemas import (
    BatchPredictResponse,
    ErrorBody,
    FeaturesRequest,
    FeedbackRequest,
    FeedbackResponse,
    PredictRequest,
    PredictResponse,
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


def _answer(prediction: Prediction) -> dict[str, Any]:
    """A `PredictResponse` as a plain dict (built directly: the hot path skips re-validation)."""
    record = prediction.record
    body: dict[str, Any] = {
        "prediction_id": record.prediction_id,
        "customer_id": record.entity["customer_id"],
        "churn_probability": record.score,
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
        body["explanation"] = [{"feature": f, "contribution": c} for f, c in prediction.explanation]
    return body


def _item_error(item: ItemError) -> dict[str, Any]:
    """An `ItemErrorBody` as a plain dict."""
    return {
        "customer_id": item.customer_id,
        "error": type(item.error).__name__,
        "detail": item.error.message,
        "status": item.error.status_code,
    }


@router.post(
    "/v1/predict",
    response_model=PredictResponse | BatchPredictResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    dependencies=[Depends(require("predict"))],
    openapi_extra={"parameters": [REQUEST_ID_PARAMETER]},
)
async def predict(request: Request, body: PredictRequest) -> JSONResponse:
    """Churn probability of one customer or a batch; every answer is logged before it is sent."""
    # Runtime and request id are read here, not declared: the hot path skips solving them.
    runtime: Runtime = request.app.state.runtime
    x_request_id = _request_id(request)
    customers = [body.customer_id] if body.customer_id is not None else body.customers or []
    if len(customers) > runtime.settings.max_batch:
        raise PayloadTooLarge(
            f"customers: {len(customers)} customers, at most {runtime.settings.max_batch} "
            "per request (KEEL_MAX_BATCH)"
        )
    if body.as_of_unix is None and not body.explain:
        answers = await runtime.batcher.predict(customers, request_id=x_request_id)
    else:
        scored = runtime.predictor.predict(
            customers, as_of_unix=body.as_of_unix, explain=body.explain, request_id=x_request_id
        )
        await runtime.commit(scored.records)
        answers = scored.answers
    if body.customer_id is not None:
        (answer,) = answers
        if isinstance(answer, ItemError):
            raise answer.error
        return JSONResponse(_answer(answer))
    return JSONResponse(
        {
            "predictions": [
                _answer(a) if isinstance(a, Prediction) else _item_error(a) for a in answers
            ]
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

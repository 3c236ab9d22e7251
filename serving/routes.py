"""HTTP routes: parse, call the predictor, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from keel.errors import ModelNotReady
from serving.predictor import Predictor
from serving.schemas import ErrorBody, Health, ModelRef, PredictRequest, PredictResponse

router = APIRouter()


def get_predictor(request: Request) -> Predictor:
    predictor: Predictor | None = getattr(request.app.state, "predictor", None)
    if predictor is None:
        raise ModelNotReady("no model loaded yet: train one with `keel train`, then retry")
    return predictor


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.post(
    "/v1/predict",
    response_model=PredictResponse,
    responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
def predict(
    body: PredictRequest,
    predictor: Annotated[Predictor, Depends(get_predictor)],
    x_request_id: Annotated[str | None, Header(max_length=128)] = None,
) -> PredictResponse:
    """Churn probability of one customer from the champion model; logged before it is sent."""
    record = predictor.predict(body.customer_id, request_id=x_request_id)
    return PredictResponse(
        prediction_id=record.prediction_id,
        customer_id=record.customer_id,
        churn_probability=record.churn_probability,
        model=ModelRef(
            name=record.model_name, version=record.model_version, alias=record.model_alias
        ),
    )

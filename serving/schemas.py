"""Request and response bodies of the serving API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    """Score one customer with the champion model."""

    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(ge=1, le=2**63 - 1, description="The customer to score.")


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str | None = None


class PredictResponse(BaseModel):
    prediction_id: str = Field(description="Unique, sortable by time; use it to send feedback.")
    customer_id: int
    churn_probability: float
    model: ModelRef


class Health(BaseModel):
    status: str


class ErrorBody(BaseModel):
    """Every error the API returns: a type and a message that names the problem."""

    error: str
    detail: str

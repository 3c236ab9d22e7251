"""Request and response bodies of the serving API."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

EntityValue = int | float | str | bool | None
"""A join key or request-field value: a JSON scalar (finite when a number)."""


def _non_finite(value: Any, path: str) -> str | None:
    """The path of the first NaN or infinity in a parsed JSON value, if any."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


class RequestBody(BaseModel):
    """A request body: unknown keys refused, and no NaN/Infinity (Python's JSON parser accepts
    them, JSON does not): the error names the field that held one."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _finite_numbers(cls, data: Any) -> Any:
        path = _non_finite(data, "")
        if path is not None:
            raise PydanticCustomError(
                "finite_number",
                "{field}: NaN and Infinity are not JSON numbers; send a finite number",
                {"field": path or "body"},
            )
        return data


HARD_MAX_BATCH = 10_000
MAX_UNIX = 253_402_300_799
"""9999-12-31T23:59:59Z."""


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str | None = None


class Contribution(BaseModel):
    feature: str
    contribution: float = Field(description="Log-odds contribution to the score.")


class FeaturesRequest(RequestBody):
    """Feast's `get-online-features` request body."""

    entities: dict[Annotated[str, Field(max_length=200)], list[EntityValue]] = Field(
        description='Join keys and request fields: {"driver_id": [1001, 1002], "val": [1, 2]}',
        max_length=100,
    )
    feature_service: str | None = Field(default=None, max_length=200)
    features: list[Annotated[str, Field(max_length=400)]] = Field(
        default_factory=list, max_length=1000
    )
    full_feature_names: bool = False

    @model_validator(mode="after")
    def _service_or_features(self) -> FeaturesRequest:
        if (self.feature_service is None) == (not self.features):
            raise ValueError("expected exactly one of feature_service or features")
        return self


class FeedbackRequest(RequestBody):
    prediction_id: str = Field(min_length=1, max_length=64)
    outcome: float = Field(
        strict=True,
        allow_inf_nan=False,
        description="What happened: 0 or 1 for a binary model (1: the positive class), the "
        "observed value for a regression model.",
    )
    observed_at: AwareDatetime = Field(description="When the outcome was observed (with zone).")


class FeedbackResponse(BaseModel):
    prediction_id: str
    outcome: int | float = Field(description="An int (0 or 1) for a binary model.")
    observed_at: datetime
    status: Literal["recorded", "unchanged"]


class ModelPredictRequest(RequestBody):
    """Score entities of one model, in Feast's request shape: join keys and request fields as
    columns of equal length."""

    entities: dict[Annotated[str, Field(max_length=200)], list[EntityValue]] = Field(
        description='Join keys and request fields, columnar: {"courier_id": ["c1", "c2"], '
        '"distance_km": [3.2, 1.5]}',
        max_length=100,
    )
    as_of_unix: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_UNIX,
        description="Value of a request field named `as_of_unix` the entities leave out "
        "(default now).",
    )
    explain: bool = Field(
        default=False,
        strict=True,
        description="Add the top feature contributions (linear models only).",
    )


class ModelPrediction(BaseModel):
    """One entity's answer: its join keys (as their own fields), then `probability` and
    `label` (binary) or `prediction` (regression)."""

    model_config = ConfigDict(extra="allow")

    prediction_id: str = Field(description="Unique, sortable by time; use it to send feedback.")
    probability: float | None = Field(default=None, description="Binary: P(class 1).")
    label: int | None = Field(default=None, description="Binary: probability >= threshold.")
    prediction: float | None = Field(default=None, description="Regression: the prediction.")
    model: ModelRef | None = Field(
        default=None, description="The version that answered, when not the champion."
    )
    missing_features: list[str] | None = Field(
        default=None, description="Features absent online and imputed by the model."
    )
    explanation: list[Contribution] | None = None


class ModelItemError(BaseModel):
    """An entity that could not be answered (its join keys as their own fields)."""

    model_config = ConfigDict(extra="allow")

    error: str
    detail: str
    status: int


class ModelPredictResponse(BaseModel):
    model: ModelRef = Field(description="The champion the request was scored with.")
    predictions: list[ModelPrediction | ModelItemError] = Field(
        description="One entry per entity, in order: a prediction or an error."
    )


class ServedModelInfo(BaseModel):
    name: str
    status: Literal["ready", "no champion"]
    aliases: dict[str, str | None] = Field(description="Alias -> version (null: none).")
    feature_service: str
    join_keys: list[str]
    request_fields: list[str]
    task: Literal["binary", "regression"] | None
    scoring: str | None = Field(default=None, description="How each served version is scored.")
    predict_path: str


class ServedModels(BaseModel):
    models: list[ServedModelInfo]


class ModelsResponse(BaseModel):
    champion: ModelRef
    challenger: ModelRef | None
    changed: bool


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


class ErrorBody(BaseModel):
    """Every error the API returns: a type and a message that names the problem."""

    error: str
    detail: str

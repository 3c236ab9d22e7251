"""The request and answer bodies of a model's short route (`POST /v1/predict`), built from its
`KeyedRoute` when the app is built, so OpenAPI names the route's own fields.

For the built-in example: its key (`{key: 5}`) or its batch field (`{batch_field: [5, 6]}`)
in, and the key, the score field, `label`, ... out (the names come from the settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, Field, create_model, model_validator

from keel.core.settings import KeyedRoute
from serving.schemas import HARD_MAX_BATCH, MAX_UNIX, Contribution, ModelRef, RequestBody


class KeyedRequest(RequestBody):
    """One entity by its join key or a batch by the plural field, never both (the fields are
    added by `keyed_bodies`)."""

    route: ClassVar[KeyedRoute]
    if TYPE_CHECKING:  # declared by `keyed_bodies`, after the route's own fields
        as_of_unix: int | None
        explain: bool

    @model_validator(mode="before")
    @classmethod
    def _names_the_key(cls, data: Any) -> Any:
        route = cls.route
        if isinstance(data, dict) and route.key not in data and route.batch_field not in data:
            raise ValueError(
                f"expected {route.key} (one {route.noun}) or {route.batch_field} (a batch), "
                f"got keys {sorted(map(str, data))[:10]}"
            )
        return data

    @model_validator(mode="after")
    def _one_of(self) -> KeyedRequest:
        route = self.route
        if (self.key_value() is None) == (self.batch_values() is None):
            raise ValueError(
                f"expected exactly one of {route.key} (one {route.noun}) or {route.batch_field}"
            )
        return self

    def key_value(self) -> int | None:
        """The one entity's id, None for a batch."""
        value: int | None = getattr(self, self.route.key)
        return value

    def batch_values(self) -> list[int] | None:
        """The batch's ids, None for one entity."""
        values: list[int] | None = getattr(self, self.route.batch_field)
        return values


@dataclass(frozen=True)
class KeyedBodies:
    """The pydantic models of one short route (named as before the route was generic, so
    OpenAPI's component names stay)."""

    request: type[KeyedRequest]
    answer: type[BaseModel]
    item_error: type[BaseModel]
    batch: type[BaseModel]


def keyed_bodies(route: KeyedRoute) -> KeyedBodies:
    """The bodies of `route`: its key, batch and score fields named as it says."""
    noun = route.noun
    entity_id = Annotated[
        int, Field(strict=True, ge=1, le=2**63 - 1, description=f"A {noun} id.")
    ]  # strict: `true` or `1.0` is a wrong type, not entity 1
    request: type[KeyedRequest] = create_model(  # type: ignore[call-overload]
        "PredictRequest",
        __base__=KeyedRequest,
        __doc__=f"Score one {noun} (`{route.key}`) or a batch (`{route.batch_field}`), never both.",
        **{
            route.key: (
                entity_id | None,
                Field(default=None, description=f"One {noun} to score."),
            ),
            route.batch_field: (
                list[entity_id] | None,
                Field(
                    default=None,
                    min_length=1,
                    max_length=HARD_MAX_BATCH,
                    description=f"{route.batch_field.capitalize()} to score in one call (at most "
                    "`KEEL_MAX_BATCH`, default 1,000).",
                ),
            ),
            "as_of_unix": (
                int | None,
                Field(
                    default=None,
                    strict=True,
                    ge=0,
                    le=MAX_UNIX,
                    description="Request-time field of the on-demand features: scoring time in "
                    "Unix seconds (default now).",
                ),
            ),
            "explain": (
                bool,
                Field(
                    default=False,
                    strict=True,
                    description="Add the top feature contributions (linear models only).",
                ),
            ),
        },
    )
    request.route = route
    answer = create_model(  # type: ignore[call-overload]
        "PredictResponse",
        **{
            "prediction_id": (
                str,
                Field(description="Unique, sortable by time; use it to send feedback."),
            ),
            route.key: (int, ...),
            route.score_field: (float, ...),
            "label": (
                int,
                Field(description=f"1 when {route.score_field} >= the model's threshold."),
            ),
            "model": (ModelRef, ...),
            "missing_features": (
                list[str] | None,
                Field(default=None, description="Features absent online and imputed by the model."),
            ),
            "explanation": (list[Contribution] | None, None),
        },
    )
    item_error = create_model(  # type: ignore[call-overload]
        "ItemErrorBody",
        **{route.key: (int, ...), "error": (str, ...), "detail": (str, ...), "status": (int, ...)},
    )
    batch = create_model(
        "BatchPredictResponse",
        predictions=(
            list[answer | item_error],  # type: ignore[valid-type]
            Field(
                description=f"One entry per requested {noun}, in order: a prediction or an error."
            ),
        ),
    )
    return KeyedBodies(request, answer, item_error, batch)

"""One-entity prediction requests for load loops, to the churn route or to a keel.yaml model's
route, and the one prediction either answers (the loops in tests/faults and tests/e2e)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Requests:
    """Bodies of one entity each, sent in turn to `path`."""

    path: str
    bodies: Sequence[dict[str, Any]]

    def body(self, index: int) -> dict[str, Any]:
        return self.bodies[index % len(self.bodies)]


def churn_requests(customers: Sequence[int]) -> Requests:
    """`POST /v1/predict` for each customer (the built-in churn example)."""
    return Requests("/v1/predict", [{"customer_id": customer} for customer in customers])


def model_requests(model: str, bodies: Sequence[dict[str, Any]]) -> Requests:
    """`POST /v1/models/{model}/predict` with Feast-shaped bodies of one entity each."""
    return Requests(f"/v1/models/{model}/predict", bodies)


def answered_prediction(body: dict[str, Any]) -> dict[str, Any]:
    """The one prediction of a 200 answer, flat, with the `model` that served it: the churn
    route answers it as the body, a model's route as its only item."""
    if "predictions" not in body:
        return body
    (item,) = body["predictions"]
    return {**item, "model": body["model"]}

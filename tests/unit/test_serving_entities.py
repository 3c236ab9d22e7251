"""A model's columnar request entities: checked against its interface, turned into rows; and a
short route's bodies and messages named by its `KeyedRoute` (any model's, not just the
built-in example's)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pydantic import ValidationError
from serving_fakes import FakeModels, loaded_model

from keel.core.errors import InvalidInput, PayloadTooLarge, UnknownEntity
from keel.core.settings import KeyedRoute
from serving.entity_request import entity_rows
from serving.keyed_bodies import keyed_bodies
from serving.model_service import Interface
from serving.predictor import ItemError, Predictor

DELIVERY = Interface(
    "delivery_eta_v1",
    {"courier_id": "String", "zone_id": "String"},
    {"distance_km": "Float64", "order_hour": "Int64"},
)
CHURN = Interface("churn_v1", {"customer_id": "Int64"}, {"as_of_unix": "Int64"})
GOOD = {
    "courier_id": ["c1", "c2"],
    "zone_id": ["z1", "z2"],
    "distance_km": [1.5, 2],
    "order_hour": [8, 9],
}


def rows(columns: dict[str, list[Any]], interface: Interface = DELIVERY) -> list[dict[str, Any]]:
    return entity_rows("m", interface, columns, max_rows=3)


def refusal(columns: dict[str, list[Any]], interface: Interface = DELIVERY) -> str:
    with pytest.raises(InvalidInput) as caught:
        rows(columns, interface)
    return caught.value.message


def test_columns_become_one_row_per_entity() -> None:
    assert rows(GOOD) == [
        {"courier_id": "c1", "zone_id": "z1", "distance_km": 1.5, "order_hour": 8},
        {"courier_id": "c2", "zone_id": "z2", "distance_km": 2, "order_hour": 9},
    ]
    assert rows({"customer_id": [7]}, CHURN) == [{"customer_id": 7}]  # as_of_unix: now


def test_each_problem_names_the_field() -> None:
    without = {k: v for k, v in GOOD.items() if k not in ("zone_id", "order_hour")}
    assert refusal(without).startswith("entities.zone_id, entities.order_hour are missing")
    assert refusal({**GOOD, "zone": ["z", "z"]}).startswith("entities.zone: not a join key")
    assert "courier_id 2, zone_id 1" in refusal({**GOOD, "zone_id": ["z1"]})
    assert refusal({**GOOD, "courier_id": [1, "c2"]}).startswith("entities.courier_id[0]")
    assert refusal({**GOOD, "order_hour": [8, True]}).startswith("entities.order_hour[1]")
    assert refusal({**GOOD, "order_hour": [8, 9.5]}).startswith("entities.order_hour[1]")
    assert refusal({**GOOD, "distance_km": [None, 1.0]}).startswith("entities.distance_km[0]")
    assert refusal({k: [] for k in GOOD}).startswith("entities: no entity")
    with pytest.raises(PayloadTooLarge, match="KEEL_MAX_BATCH"):
        rows({k: v * 2 for k, v in GOOD.items()})


ORDERS = KeyedRoute(
    model="late_orders",
    key="order_id",
    batch_field="orders",
    score_field="late_probability",
    noun="order",
)


def test_a_short_routes_bodies_are_named_by_its_route() -> None:
    bodies = keyed_bodies(ORDERS)
    one = bodies.request.model_validate({"order_id": 7})
    assert (one.key_value(), one.batch_values()) == (7, None)
    batch = bodies.request.model_validate({"orders": [7, 8], "as_of_unix": 5})
    assert (batch.key_value(), batch.batch_values(), batch.as_of_unix) == (None, [7, 8], 5)
    schema = bodies.request.model_json_schema()
    assert list(schema["properties"]) == ["order_id", "orders", "as_of_unix", "explain"]
    assert (
        schema["description"] == "Score one order (`order_id`) or a batch (`orders`), never both."
    )
    answer = bodies.answer.model_json_schema()
    assert answer["required"] == ["prediction_id", "order_id", "late_probability", "label", "model"]
    assert bodies.item_error.model_json_schema()["required"][0] == "order_id"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"order": 7}, "expected order_id (one order) or orders (a batch), got keys ['order']"),
        ({"order_id": 7, "orders": [8]}, "expected exactly one of order_id (one order) or orders"),
        ({"order_id": 0}, "greater than or equal to 1"),
        ({"order_id": True}, "valid integer"),
        ({"orders": []}, "at least 1 item"),
    ],
)
def test_a_short_routes_refusals_name_its_fields(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        keyed_bodies(ORDERS).request.model_validate(body)


class Orders:
    """A feature source keyed by `order_id`: orders below 100 are known."""

    def __init__(self) -> None:
        self.service = "orders_v1"
        self.join_keys = ["order_id"]
        self.request_fields: list[str] = []
        self.stored_features = ["plan", "logins_7d", "spend_30d"]

    def get_rows(
        self, entities: Sequence[Mapping[str, Any]], *, as_of_unix: int | None = None
    ) -> list[dict[str, Any] | None]:
        rows = [{"plan": "basic", "logins_7d": 1.0, "spend_30d": 2.0}]
        return [rows[0] if e["order_id"] < 100 else None for e in entities]


def test_an_unknown_entity_is_named_with_the_routes_noun() -> None:
    models = FakeModels(loaded_model("1"))
    for noun, expected in (("order", "unknown order"), ("entity", "unknown entity")):
        predictor = Predictor(models, Orders(), code_commit="t", entity_noun=noun)  # type: ignore[arg-type]
        known, unknown = predictor.predict([{"order_id": 1}, {"order_id": 100}]).answers
        assert not isinstance(known, ItemError)
        assert isinstance(unknown, ItemError) and isinstance(unknown.error, UnknownEntity)
        assert unknown.error.message == f"order_id 100 has no online features: {expected}"

"""A model's columnar request entities: checked against its interface, turned into rows; and
churn-only feature sources adapted to the generic protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from keel.errors import InvalidInput, PayloadTooLarge
from serving.entity_request import entity_rows
from serving.model_service import Interface
from serving.online_features import CustomerFeatures, as_feature_source

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


class ChurnOnly:
    def __init__(self) -> None:
        self.stored_features = ["plan"]
        self.calls: list[tuple[list[int], int | None]] = []

    def get_many(
        self, customer_ids: Sequence[int], *, as_of_unix: int | None = None
    ) -> list[dict[str, Any] | None]:
        self.calls.append((list(customer_ids), as_of_unix))
        return [{"plan": f"p{c}@{as_of_unix}"} if c < 100 else None for c in customer_ids]


def test_a_churn_only_source_reads_entities_grouped_by_their_scoring_time() -> None:
    source = ChurnOnly()
    adapted = as_feature_source(source, "churn_v1")
    assert isinstance(adapted, CustomerFeatures) and adapted.join_keys == ["customer_id"]
    entities = [{"customer_id": 1}, {"customer_id": 2, "as_of_unix": 5}, {"customer_id": 100}]
    assert adapted.get_rows(entities, as_of_unix=9) == [{"plan": "p1@9"}, {"plan": "p2@5"}, None]
    assert source.calls == [([1, 100], 9), ([2], 5)]
    assert as_feature_source(adapted, "churn_v1") is adapted

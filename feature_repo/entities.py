"""Entities of the churn domain."""

from __future__ import annotations

from feast import Entity
from feast.value_type import ValueType

from feature_repo.example import ENTITY_KEY

customer = Entity(
    name="customer",
    join_keys=[ENTITY_KEY],
    value_type=ValueType.INT64,
    description="A subscriber of the business.",
)

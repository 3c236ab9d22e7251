"""A small Feast repo unlike the examples: int64 and int32 join keys (one composite view), a
python-mode on-demand view over request fields (one of them `as_of_unix`) that reads a join key,
a pandas-mode view over two batch views, Bool and list features. Data: written by the test."""

from datetime import timedelta
from typing import Any

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Array, Bool, Float64, Int32, Int64, String
from feast.value_type import ValueType

customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
shop = Entity(name="shop", join_keys=["shop_id"], value_type=ValueType.INT32)

customer_stats = FeatureView(
    name="customer_stats",
    entities=[customer],
    ttl=timedelta(days=30),
    schema=[
        Field(name="customer_id", dtype=Int64),
        Field(name="spend", dtype=Float64),
        Field(name="orders", dtype=Int64),
        Field(name="tier", dtype=String),
        Field(name="vip", dtype=Bool),
        Field(name="tags", dtype=Array(String)),
    ],
    source=FileSource(path="data/customers.parquet", timestamp_field="event_timestamp"),
)
shop_stats = FeatureView(
    name="shop_stats",
    entities=[shop],
    ttl=timedelta(days=30),
    schema=[Field(name="shop_id", dtype=Int32), Field(name="busy", dtype=Float64)],
    source=FileSource(path="data/shops.parquet", timestamp_field="event_timestamp"),
)
customer_shop = FeatureView(
    name="customer_shop",
    entities=[customer, shop],
    ttl=timedelta(days=30),
    schema=[
        Field(name="customer_id", dtype=Int64),
        Field(name="shop_id", dtype=Int32),
        Field(name="visits", dtype=Int64),
    ],
    source=FileSource(path="data/visits.parquet", timestamp_field="event_timestamp"),
)
checkout = RequestSource(
    name="checkout",
    schema=[
        Field(name="as_of_unix", dtype=Int64),
        Field(name="basket", dtype=Float64),
        Field(name="coupon", dtype=String),
    ],
)


@on_demand_feature_view(
    sources=[customer_stats, checkout],
    schema=[
        Field(name="discounted", dtype=Float64),
        Field(name="has_coupon", dtype=Bool),
        Field(name="odd_customer", dtype=Int64),
        Field(name="hours_left", dtype=Int64),
    ],
    mode="python",
)
def basket_features(inputs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"discounted": [], "has_coupon": [], "odd_customer": [], "hours_left": []}
    # `feast apply` runs the transform on made-up inputs without the join keys
    keys = inputs.get("customer_id", [0] * len(inputs["basket"]))
    for spend, basket, coupon, key, as_of in zip(
        inputs["spend"], inputs["basket"], inputs["coupon"], keys, inputs["as_of_unix"], strict=True
    ):
        rate = 0.1 if coupon else 0.0
        out["discounted"].append(None if spend is None else basket * (1 - rate) + spend / 1000)
        out["has_coupon"].append(bool(coupon))
        out["odd_customer"].append(key % 2)
        out["hours_left"].append((1_800_000_000 - as_of) // 3600)
    return out


@on_demand_feature_view(
    sources=[shop_stats, customer_shop],
    schema=[Field(name="busy_x_visits", dtype=Float64)],
)
def shop_mix(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=inputs.index)
    out["busy_x_visits"] = inputs["busy"] * inputs["visits"]
    return out


shop_v1 = FeatureService(
    name="shop_v1",
    features=[customer_stats, shop_stats, customer_shop, basket_features, shop_mix],
)
spend_only_v1 = FeatureService(name="spend_only_v1", features=[customer_stats[["spend", "tags"]]])

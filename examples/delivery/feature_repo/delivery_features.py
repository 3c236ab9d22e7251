"""Feast definitions of the delivery example: couriers and city zones, keyed by strings.

A standard Feast repo: module-level objects that `feast apply` collects. Data comes from
`examples/delivery/generate.py`, which writes the Parquet files under `data/`.

- `courier_stats` (per courier, daily), `zone_conditions` (per zone, daily) and
  `courier_zone_stats` (per courier and zone: a composite key, weekly);
- `order_features`, an on-demand view over the order's request fields (distance, hour);
- `delivery_eta_v1` (regression: minutes to deliver) and `late_risk_v1` (binary: late or not).

`recent_zones` is a list: Feast stores and serves it, Keel leaves it out of its models.
"""

from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Array, Float64, Int64, String
from feast.value_type import ValueType

courier = Entity(
    name="courier",
    join_keys=["courier_id"],
    value_type=ValueType.STRING,
    description="A courier, e.g. 'c-0042'.",
)
zone = Entity(
    name="zone",
    join_keys=["zone_id"],
    value_type=ValueType.STRING,
    description="A delivery zone of the city, e.g. 'z-03'.",
)

courier_daily_source = FileSource(
    name="courier_daily",
    path="data/courier_daily.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)
zone_daily_source = FileSource(
    name="zone_daily",
    path="data/zone_daily.parquet",
    timestamp_field="event_timestamp",
)
courier_zone_weekly_source = FileSource(
    name="courier_zone_weekly",
    path="data/courier_zone_weekly.parquet",
    timestamp_field="event_timestamp",
)

courier_stats = FeatureView(
    name="courier_stats",
    entities=[courier],
    ttl=timedelta(days=2),
    schema=[
        Field(name="vehicle", dtype=String, description="bike, scooter or car"),
        Field(name="rating", dtype=Float64, description="Customer rating, 1 to 5."),
        Field(name="deliveries_7d", dtype=Int64),
        Field(name="avg_delay_min_7d", dtype=Float64),
        Field(name="recent_zones", dtype=Array(String), description="Zones of the last orders."),
    ],
    source=courier_daily_source,
    online=True,
    tags={"team": "logistics"},
)

zone_conditions = FeatureView(
    name="zone_conditions",
    entities=[zone],
    ttl=timedelta(days=2),
    schema=[
        Field(name="zone_type", dtype=String, description="downtown, residential or suburb"),
        Field(name="traffic_index", dtype=Float64, description="1.0 is free-flowing."),
        Field(name="rain_mm", dtype=Float64),
    ],
    source=zone_daily_source,
    online=True,
    tags={"team": "logistics"},
)

courier_zone_stats = FeatureView(
    name="courier_zone_stats",
    entities=[courier, zone],
    ttl=timedelta(days=8),
    schema=[
        Field(name="deliveries_in_zone_28d", dtype=Int64, description="Familiarity with the zone."),
    ],
    source=courier_zone_weekly_source,
    online=True,
    tags={"team": "logistics"},
)

order_request = RequestSource(
    name="order_request",
    schema=[
        Field(name="distance_km", dtype=Float64),
        Field(name="order_hour", dtype=Int64, description="Local hour the order was placed."),
    ],
)


@on_demand_feature_view(
    sources=[zone_conditions, order_request],
    schema=[
        Field(name="distance_x_traffic", dtype=Float64),
        Field(name="is_peak_hour", dtype=Int64),
    ],
)
def order_features(inputs: pd.DataFrame) -> pd.DataFrame:
    """Request-time features: distance weighted by the zone's traffic, and lunch/dinner peaks."""
    out = pd.DataFrame(index=inputs.index)
    out["distance_x_traffic"] = inputs["distance_km"] * inputs["traffic_index"]
    out["is_peak_hour"] = inputs["order_hour"].isin([11, 12, 13, 18, 19, 20]).astype("int64")
    return out


delivery_eta_v1 = FeatureService(
    name="delivery_eta_v1",
    features=[courier_stats, zone_conditions, courier_zone_stats, order_features],
    description="Minutes from order to door.",
)

late_risk_v1 = FeatureService(
    name="late_risk_v1",
    features=[
        courier_stats[["vehicle", "rating", "avg_delay_min_7d"]],
        zone_conditions,
        order_features,
    ],
    description="Will the order arrive after its promised 30 minutes?",
)

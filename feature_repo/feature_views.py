"""Batch feature views over the customer feature tables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from feast import FeatureView, Field
from feast.types import Float64, Int64, String

from feature_repo import sources
from feature_repo.entities import customer

ACTIVITY_WINDOWS = (7, 30, 90)


def customer_profile(features_dir: Path, spark_uri: str | None = None) -> FeatureView:
    """Plan, region and price: valid from signup on, never expire."""
    return FeatureView(
        name="customer_profile",
        entities=[customer],
        ttl=timedelta(0),
        schema=[
            Field(name="plan", dtype=String),
            Field(name="region", dtype=String),
            Field(name="monthly_price", dtype=Float64),
            Field(name="signup_unix", dtype=Int64, description="Signup time, Unix seconds."),
        ],
        source=sources.profile_source(features_dir, spark_uri),
        online=True,
        tags={"owner": "keel", "domain": "churn"},
    )


def customer_activity(features_dir: Path, spark_uri: str | None = None) -> FeatureView:
    """Rolling 7/30/90-day activity; a daily row, so a two-day TTL flags stale customers."""
    schema = [
        Field(name=f"{metric}_{days}d", dtype=Int64 if metric == "logins" else Float64)
        for metric in ("logins", "minutes")
        for days in ACTIVITY_WINDOWS
    ]
    schema += [
        Field(name="sessions_30d", dtype=Int64),
        Field(name="active_days_30d", dtype=Int64),
        Field(name="spend_30d", dtype=Float64),
        Field(name="spend_90d", dtype=Float64),
    ]
    return FeatureView(
        name="customer_activity",
        entities=[customer],
        ttl=timedelta(days=2),
        schema=schema,
        source=sources.activity_source(features_dir, spark_uri),
        online=True,
        tags={"owner": "keel", "domain": "churn"},
    )


def customer_support(features_dir: Path, spark_uri: str | None = None) -> FeatureView:
    """Rolling support-ticket counts, all categories and cancellation requests."""
    return FeatureView(
        name="customer_support",
        entities=[customer],
        ttl=timedelta(days=2),
        schema=[
            Field(name="tickets_30d", dtype=Int64),
            Field(name="tickets_90d", dtype=Int64),
            Field(name="cancellation_tickets_30d", dtype=Int64),
        ],
        source=sources.support_source(features_dir, spark_uri),
        online=True,
        tags={"owner": "keel", "domain": "churn"},
    )

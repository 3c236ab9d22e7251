"""Every Feast object of the repo, built for one data directory.

Built by a function (not at import) so the file paths are the workspace's, absolute, and no
module-level object is mutated between workspaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from feast import Entity, FeatureService, FeatureView
from feast.on_demand_feature_view import OnDemandFeatureView

from feature_repo.entities import customer
from feature_repo.example import FEATURE_SERVICE, MODEL_NAME
from feature_repo.feature_views import customer_activity, customer_profile, customer_support
from feature_repo.on_demand import derived_view

CHURN_SERVICE = FEATURE_SERVICE


@dataclass(frozen=True)
class Definitions:
    """The repo's objects, ready for `FeatureStore.apply`."""

    entities: list[Entity]
    feature_views: list[FeatureView]
    on_demand_views: list[OnDemandFeatureView]
    feature_services: list[FeatureService]

    def all(self) -> list[object]:
        return [
            *self.entities,
            *self.feature_views,
            *self.on_demand_views,
            *self.feature_services,
        ]


def build(features_dir: Path, *, spark_uri: str | None = None) -> Definitions:
    """The churn repo: profile, activity and support views, derived features, `churn_v1`.

    With `spark_uri` (the feature directory as Spark's executors see it) the views read
    `SparkSource`s of the same names and fields, for the `spark` profile; else `FileSource`s.
    """
    profile = customer_profile(features_dir, spark_uri)
    activity = customer_activity(features_dir, spark_uri)
    support = customer_support(features_dir, spark_uri)
    derived = derived_view(profile, activity)
    churn_v1 = FeatureService(
        name=CHURN_SERVICE,
        features=[
            profile[["plan", "region", "monthly_price"]],
            activity,
            support,
            derived,
        ],
        description="Features of the churn model, version 1.",
        tags={"model": MODEL_NAME},
    )
    return Definitions(
        entities=[customer],
        feature_views=[profile, activity, support],
        on_demand_views=[derived],
        feature_services=[churn_v1],
    )

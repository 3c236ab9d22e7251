"""`keel features apply|materialize`: Feast's apply, and materialization into the online store.

Materialization is Keel's Redis writer (`keel.redis_materializer`: Feast's format and rules, 5-10x
Feast's rows/s in benchmarks/bench_materialize.py) when the online store is Redis fed by Feast's
local engine; Feast's own `store.materialize` otherwise (SQLite, other engines, views with
transforms).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from keel.feature_store import open_store, repo_definitions
from keel.redis_materializer import RedisMaterializer, supports_view, uses_keel_writer
from keel.settings import Settings

MATERIALIZE_FROM = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ApplySummary:
    """Names of what `apply` registered."""

    entities: list[str]
    feature_views: list[str]
    on_demand_views: list[str]
    feature_services: list[str]


def apply_definitions(settings: Settings) -> ApplySummary:
    """Register the repo's entities, views and services in Feast's registry."""
    store = open_store(settings)
    definitions = repo_definitions(settings)  # SparkSources under the spark profile
    store.apply(definitions.all())  # type: ignore[arg-type]
    return ApplySummary(
        entities=[e.name for e in definitions.entities],
        feature_views=[v.name for v in definitions.feature_views],
        on_demand_views=[v.name for v in definitions.on_demand_views],
        feature_services=[s.name for s in definitions.feature_services],
    )


def materialize(settings: Settings, *, end: datetime | None = None) -> list[str]:
    """Load the latest feature values up to `end` (default now) into the online store."""
    store = open_store(settings)
    end = end or datetime.now(UTC)
    online = [view for view in store.list_feature_views() if view.online]
    views = [view.name for view in online]
    keel_views: list[str] = []
    if uses_keel_writer(store.config):
        keel_views = [view.name for view in online if supports_view(view)]
    if keel_views:
        RedisMaterializer(store).materialize(keel_views, start=MATERIALIZE_FROM, end=end)
    feast_views = [name for name in views if name not in keel_views]
    if feast_views:
        store.materialize(start_date=MATERIALIZE_FROM, end_date=end, feature_views=feast_views)
    return views

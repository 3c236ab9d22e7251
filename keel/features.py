"""`keel features apply|materialize`: Feast's own apply and materialize on the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from feature_repo.definitions import build
from keel.feature_store import open_store
from keel.settings import Settings
from keel.workspace import Workspace

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
    definitions = build(Workspace.from_settings(settings).features_dir)
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
    views = [view.name for view in store.list_feature_views() if view.online]
    store.materialize(start_date=MATERIALIZE_FROM, end_date=end, feature_views=views)
    return views

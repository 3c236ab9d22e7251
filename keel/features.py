"""`keel features apply|materialize`: Feast's apply, and materialization into the online store.

Materialization is Keel's Redis writer (`keel.redis_materializer`: Feast's format and rules, 5-10x
Feast's rows/s in benchmarks/bench_materialize.py) when the online store is Redis fed by Feast's
local engine; Feast's own `store.materialize` otherwise (SQLite, other engines, views with
transforms).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keel.errors import WorkspaceNotReady
from keel.feature_store import open_store, repo_definitions
from keel.redis_materializer import RedisMaterializer, supports_view, uses_keel_writer
from keel.service_checks import check_redis
from keel.settings import Settings

MATERIALIZE_FROM = datetime(2000, 1, 1, tzinfo=UTC)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApplySummary:
    """Names of what `apply` registered."""

    entities: list[str]
    feature_views: list[str]
    on_demand_views: list[str]
    feature_services: list[str]
    created_databases: list[str] = field(default_factory=list)
    """PostgreSQL databases of the profile that did not exist and were created first."""


def apply_definitions(settings: Settings) -> ApplySummary:
    """Register the repo's entities, views and services in Feast's registry, creating the
    profile's missing databases first (as `keel infra up` does, so either may come first)."""
    from keel.infra_config import ensure_databases

    created = ensure_databases(settings)
    store = open_store(settings)
    definitions = repo_definitions(settings)  # SparkSources under the spark profile
    store.apply(definitions.all())  # type: ignore[arg-type]
    return ApplySummary(
        entities=[e.name for e in definitions.entities],
        feature_views=[v.name for v in definitions.feature_views],
        on_demand_views=[v.name for v in definitions.on_demand_views],
        feature_services=[s.name for s in definitions.feature_services],
        created_databases=created,
    )


def materialize(
    settings: Settings,
    *,
    end: datetime | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[str]:
    """Load the latest feature values up to `end` (default now) into the online store.

    Feast's own prints (coloured with escape codes even into a pipe) are captured and logged at
    debug level; progress goes to `on_step`, one step per view (`name (k/n)`)."""
    store = open_store(settings)
    end = end or datetime.now(UTC)
    online = [view for view in store.list_feature_views() if view.online]
    _require_local_sources(online)
    if store.config.online_store.type == "redis":  # else a redis-py traceback mid-way
        check_redis(settings.redis_url)
    views = [view.name for view in online]
    keel_views: list[str] = []
    if uses_keel_writer(store.config):
        keel_views = [view.name for view in online if supports_view(view)]
    step = on_step or _no_step
    if keel_views:
        step(f"materializing {', '.join(keel_views)} (Keel's Redis writer) (1/{len(views)})")
        RedisMaterializer(store).materialize(keel_views, start=MATERIALIZE_FROM, end=end)
    feast_views = [name for name in views if name not in keel_views]
    for done, name in enumerate(feast_views, start=len(keel_views) + 1):
        step(f"materializing {name} ({done}/{len(views)})")
        with redirect_stdout(io.StringIO()) as printed:
            store.materialize(start_date=MATERIALIZE_FROM, end_date=end, feature_views=[name])
        logger.debug("Feast printed: %s", printed.getvalue().strip())
    return views


def _no_step(message: str) -> None:
    """Progress goes nowhere."""


def _require_local_sources(views: list[Any]) -> None:
    """`WorkspaceNotReady` naming the first feature table a view reads that is not on disk (a
    URI such as `s3a://` is left to its engine)."""
    for view in views:
        path = getattr(view.batch_source, "path", None)
        if path and "://" not in path and not Path(path).exists():
            raise WorkspaceNotReady(
                f"{path} is missing (read by feature view {view.name!r}): run "
                "`keel data generate` first"
            )

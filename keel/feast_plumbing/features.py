"""`keel features apply|materialize`: Feast's apply, and materialization into the online store.

Without a keel.yaml they work on Keel's churn repo for the workspace's profile; with one, on its
`feature_repo`, a standard Feast repo used as Feast uses it (`apply_project`,
`open_project_store`: its own feature_store.yaml, paths relative to the repo).

Materialization is Keel's Redis writer (`keel.feast_plumbing.redis_materializer`: Feast's format
and rules, 5-10x
Feast's rows/s in benchmarks/bench_materialize.py) when the online store is Redis fed by Feast's
local engine; Feast's own `store.materialize` otherwise (SQLite, other engines, views with
transforms).
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feast import FeatureStore

from keel.core.errors import BackendUnavailable, InvalidInput, InvalidProject, WorkspaceNotReady
from keel.core.project import Project
from keel.core.settings import Settings
from keel.feast_plumbing.feature_store import open_store, repo_definitions
from keel.feast_plumbing.project_checks import open_store as open_project_store
from keel.feast_plumbing.redis_materializer import (
    RedisMaterializer,
    supports_view,
    uses_keel_writer,
)
from keel.ops.service_checks import check_redis

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
    label_views: list[str] = field(default_factory=list)
    """Feast `LabelView`s (fed by pushes, never materialized)."""


def apply_definitions(settings: Settings) -> ApplySummary:
    """Register the repo's entities, views and services in Feast's registry, creating the
    profile's missing databases first (as `keel infra up` does, so either may come first)."""
    from keel.ops.infra_config import ensure_databases

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


def apply_project(project: Project, *, timeout: float = 600.0) -> ApplySummary:
    """`feast apply` in the project's Feast repo, by Feast's own CLI in a child process: it
    imports the repo's modules by file and changes directory, which Keel's process must not.
    A failure is one `InvalidProject` line with Feast's last line of output."""
    open_project_store(project)  # feature_store.yaml present and valid, else one clear line
    repo = project.feature_repo
    try:
        done = subprocess.run(
            [sys.executable, "-m", "feast.cli.cli", "apply"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InvalidProject(f"{repo}: `feast apply` took more than {timeout:g} s") from None
    logger.debug("feast apply printed: %s", _plain(done.stdout + done.stderr).strip())
    if done.returncode != 0:
        lines = _plain(done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
        raise InvalidProject(f"{repo}: `feast apply` failed: {lines[-1].strip()}")
    store = open_project_store(project)
    return ApplySummary(
        entities=[entity.name for entity in store.list_entities()],
        feature_views=[view.name for view in store.list_feature_views()],
        on_demand_views=[view.name for view in store.list_on_demand_feature_views()],
        feature_services=[service.name for service in store.list_feature_services()],
        label_views=[view.name for view in store.list_label_views()],
    )


def materialize_project(
    project: Project,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[str]:
    """`materialize_store` on the project's Feast repo, opened as `feast` opens it; its Redis
    online store unreachable is one `BackendUnavailable` line naming the repo's YAML."""
    from redis.exceptions import RedisError

    store = open_project_store(project)
    try:
        return materialize_store(store, start=start, end=end, on_step=on_step)
    except RedisError as error:
        raise BackendUnavailable(
            f"{project.feature_repo / 'feature_store.yaml'}: cannot reach its Redis online "
            f"store: {str(error).strip() or type(error).__name__}"
        ) from None


def _plain(text: str) -> str:
    """`text` without terminal colour codes (Feast colours its output even into a pipe)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def materialize(
    settings: Settings,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[str]:
    """Load the latest feature values in [`start`, `end`] (default `MATERIALIZE_FROM`, now)
    into the workspace's online store; see `materialize_store`."""
    store = open_store(settings)
    if store.config.online_store.type == "redis":  # else a redis-py traceback mid-way
        check_redis(settings.redis_url)
    return materialize_store(
        store, start=start, end=end, on_step=on_step, missing="run `keel data generate` first"
    )


def materialize_store(
    store: FeatureStore,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    on_step: Callable[[str], None] | None = None,
    missing: str = "write it, then materialize again",
) -> list[str]:
    """Load the latest value per key of every online view, in [`start`, `end`] (default
    `MATERIALIZE_FROM`, now), into `store`'s online store; the names of the views.

    The window is absolute, not Feast's `materialize-incremental` (which looks back one TTL from
    now, so data a few TTLs old would load nothing). Feast's own prints (coloured with escape
    codes even into a pipe) are captured and logged at debug level; progress goes to `on_step`,
    one step per view (`name (k/n)`); `missing` ends the error about a missing feature table."""
    start = start or MATERIALIZE_FROM
    end = end or datetime.now(UTC)
    if start >= end:
        raise InvalidInput(
            f"--start {start:%Y-%m-%d %H:%M} is not before --end {end:%Y-%m-%d %H:%M} (UTC)"
        )
    online = [view for view in store.list_feature_views() if view.online]
    _require_local_sources(online, Path(store.repo_path), missing)
    views = [view.name for view in online]
    keel_views: list[str] = []
    if uses_keel_writer(store.config):
        keel_views = [view.name for view in online if supports_view(view)]
    step = on_step or _no_step
    if keel_views:
        step(f"materializing {', '.join(keel_views)} (Keel's Redis writer) (1/{len(views)})")
        RedisMaterializer(store).materialize(keel_views, start=start, end=end)
    feast_views = [name for name in views if name not in keel_views]
    for done, name in enumerate(feast_views, start=len(keel_views) + 1):
        step(f"materializing {name} ({done}/{len(views)})")
        with redirect_stdout(io.StringIO()) as printed:
            store.materialize(start_date=start, end_date=end, feature_views=[name])
        logger.debug("Feast printed: %s", printed.getvalue().strip())
    return views


def _no_step(message: str) -> None:
    """Progress goes nowhere."""


def _require_local_sources(views: list[Any], repo: Path, missing: str) -> None:
    """`WorkspaceNotReady` naming the first feature table a view reads that is not on disk (a
    relative path is the repo's, as Feast's file store resolves it; a URI such as `s3a://` is
    left to its engine)."""
    for view in views:
        path = getattr(view.batch_source, "path", None)
        if path and "://" not in path and not (repo / path).exists():
            raise WorkspaceNotReady(
                f"{repo / path} is missing (read by feature view {view.name!r}): {missing}"
            )

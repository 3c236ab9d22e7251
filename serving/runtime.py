"""What a running server holds: the predictor, the log, the store, metrics and auth.

Built once at start-up (`Runtime.start`), kept on `app.state.runtime`, closed at shutdown. The
alias-following loop (`follow_aliases`) runs beside the requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from feast import FeatureStore

from keel.backends import redact_url
from keel.errors import KeelError, LogUnavailable, RegistryUnavailable
from keel.feature_store import open_store
from keel.provenance import code_commit
from keel.settings import Settings
from registry.registry_client import serving_registry_client
from serving.batcher import MicroBatcher
from serving.log_disk import disk_problem
from serving.metrics import Metrics
from serving.model_cache import ModelCache
from serving.model_files_cache import ModelFilesCache
from serving.online_features import FeastOnlineFeatures, FeatureSource
from serving.prediction_log import PredictionLog, PredictionRecord, open_prediction_log
from serving.predictor import Predictor
from serving.registry_probe import registry_probe

logger = logging.getLogger(__name__)


def feature_source(store: FeatureStore, settings: Settings) -> FeatureSource:
    """Direct reads of the SQLite or Redis online store when enabled, else Feast's own API."""
    kind = store.config.online_store.type
    if settings.direct_online_reads and kind == "sqlite":
        from serving.direct_features import DirectSqliteFeatures

        return DirectSqliteFeatures(store, settings.feature_service)
    if settings.direct_online_reads and kind == "redis":
        from serving.direct_features import DirectRedisFeatures, redis_client

        client = redis_client(settings.redis_url, timeout=settings.online_timeout)
        return DirectRedisFeatures(store, settings.feature_service, client)
    return FeastOnlineFeatures(store, settings.feature_service)


def log_location(settings: Settings) -> str:
    """Where the profile's prediction log lives, for error messages (password redacted)."""
    if settings.profile == "production":
        return f"PostgreSQL at {redact_url(settings.postgres_url)}"
    from keel.workspace import Workspace

    return str(Workspace.from_settings(settings).prediction_log)


LOG_FAILURE_MEMORY_S = 5.0


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


@dataclass
class Runtime:
    settings: Settings
    store: FeatureStore
    predictor: Predictor
    log: PredictionLog
    metrics: Metrics
    batcher: MicroBatcher = field(init=False)
    registry_status: str = field(init=False, default="ok")
    """`ok`, or why the aliases cannot be followed and what is served meanwhile (`/readyz`)."""
    log_error: str | None = field(init=False, default=None)
    """Why the last commit of the prediction log failed; None once a commit succeeds."""
    log_failed_at: float = field(init=False, default=0.0)
    alias_problem: str | None = field(init=False, default=None)
    """What the last alias check could not do and what is served meanwhile; logged on change."""

    def __post_init__(self) -> None:
        self.batcher = MicroBatcher(
            self.predictor, self.commit, max_customers=self.settings.max_batch
        )

    async def commit(self, records: list[PredictionRecord]) -> None:
        """Make `records` durable before anything is answered; count them and, per feature,
        the answered ones that broke their version's expectations."""
        try:
            await self.log.commit(records)
        except Exception as error:
            self.metrics.log_failures.inc()
            disk = self._disk_problem()
            self.log_error = _reason(error) + (f"; {disk}" if disk else "")
            self.log_failed_at = time.monotonic()
            raise LogUnavailable(
                f"the prediction log ({log_location(self.settings)}) could not commit "
                f"({self.log_error}); nothing was answered, retry"
            ) from error
        self.log_error = None
        violations = self.metrics.feature_violations
        for record in records:
            self.metrics.predictions.labels(
                record.model_name, record.model_version, record.served_by
            ).inc()
            if record.violations and record.served_by != "shadow":  # answered predictions only
                for feature in record.violations:
                    violations.labels(feature, record.model_name, record.model_version).inc()

    @classmethod
    def start(cls, settings: Settings, metrics: Metrics) -> Runtime:
        from keel.workspace import Workspace

        store = open_store(settings, online_timeout=settings.online_timeout)
        cache_dir = Workspace.from_settings(settings).model_cache_dir
        files = ModelFilesCache(cache_dir, settings.model_name)
        models = ModelCache(
            serving_registry_client(settings),  # alias reads without importing MLflow
            settings.model_name,
            files=files,
            expectations_loader=files.expectations,
            probe=registry_probe(settings),
        )
        predictor = Predictor(
            models,
            feature_source(store, settings),
            code_commit=code_commit(),
            challenger_share=settings.challenger_share,
            shadow=settings.shadow,
        )
        log = open_prediction_log(settings)
        runtime = cls(settings, store, predictor, log, metrics)
        try:
            runtime.reload()
        except RegistryUnavailable as error:  # serve the champion cached by an earlier start
            cached = models.restore()
            if cached is None:
                runtime.registry_status = "unreachable, no cached champion"
                runtime.note_alias_problem(error)
            else:
                logger.warning(
                    "registry unreachable (%s): serving cached champion %s v%s, loaded at %s, "
                    "until the registry answers",
                    error.message,
                    cached.model.name,
                    cached.model.version,
                    cached.loaded_at.isoformat(timespec="seconds"),
                )
                runtime.registry_status = (
                    f"unreachable, serving cached champion v{cached.model.version}"
                )
                runtime.publish_versions()
                runtime.alias_problem = runtime.describe_alias_problem(error)  # said above
        except KeelError as error:  # no champion yet: serve 503 until one appears
            runtime.note_alias_problem(error)
        return runtime

    def reload(self) -> bool:
        """Follow the aliases now; True when the served versions changed."""
        try:
            changed = self.predictor.models.refresh()
        except RegistryUnavailable:
            self.metrics.reloads.labels("failed").inc()
            current = self.predictor.models.current
            if current is None:
                self.registry_status = "unreachable, no model loaded"
            elif not self.registry_status.startswith("unreachable"):
                loaded = current.champion.model.version
                self.registry_status = f"unreachable, serving loaded champion v{loaded}"
            raise
        except Exception:
            self.metrics.reloads.labels("failed").inc()
            raise
        if self.registry_status != "ok":
            logger.info("registry reachable again: following the aliases")
        self.registry_status = "ok"
        self.metrics.reloads.labels("changed" if changed else "unchanged").inc()
        self.publish_versions()
        return changed

    def publish_versions(self) -> None:
        """`keel_model_version{alias}`: the version each alias points to (0: none)."""
        current = self.predictor.models.current
        if current is not None:
            for alias, version in current.versions().items():
                self.metrics.model_version.labels(alias).set(float(version or 0))

    def describe_alias_problem(self, error: Exception) -> str:
        """A failed alias check in words: why, what is served meanwhile, and what to do."""
        why = error.message if isinstance(error, KeelError) else _reason(error)
        current = self.predictor.models.current
        if current is None:
            name = self.settings.model_name
            return (
                f"no model to serve and none cached ({why}): not ready, /v1/predict answers 503 "
                f"until {name}@champion exists; run `keel train`, or `keel models promote "
                f"{name}/<version> --alias champion`"
            )
        served = ", ".join(f"{alias} v{v}" for alias, v in current.versions().items() if v)
        return f"alias check failed ({why}); still serving the loaded models: {served}"

    def note_alias_problem(self, error: Exception) -> None:
        """Log a failed alias check once, and again only when what it says changes."""
        problem = self.describe_alias_problem(error)
        if problem != self.alias_problem:
            logger.warning("%s", problem)
        self.alias_problem = problem

    async def follow_aliases(self) -> None:
        """Check the aliases every `reload_interval` seconds; a failed check keeps serving."""
        while True:
            await asyncio.sleep(self.settings.reload_interval)
            await self.check_aliases()

    async def check_aliases(self) -> None:
        """One alias check; a failure is logged when it differs from the last one, a recovery
        once."""
        try:
            await asyncio.to_thread(self.reload)
        except Exception as error:
            self.note_alias_problem(error)
            return
        if self.alias_problem is not None:
            current = self.predictor.models.current
            served = current.versions() if current else {}
            logger.info("alias check succeeded again: serving %s", served)
        self.alias_problem = None

    def log_problem(self) -> str | None:
        """Why the prediction log cannot take records now, or None: the local log's disk is
        read-only or full, or a commit failed within the last `LOG_FAILURE_MEMORY_S` seconds
        (so a server that receives no traffic while failing still turns ready again)."""
        problem = self._disk_problem()
        if problem:
            return problem
        recent = time.monotonic() - self.log_failed_at < LOG_FAILURE_MEMORY_S
        if self.log_error is not None and recent:
            return f"last commit failed: {self.log_error}"
        return None

    def _disk_problem(self) -> str | None:
        """The local log's disk trouble (read-only, full), if any; None in production."""
        if self.settings.profile == "production":
            return None
        from keel.workspace import Workspace

        return disk_problem(Workspace.from_settings(self.settings).prediction_log)

    def close(self) -> None:
        self.log.close()

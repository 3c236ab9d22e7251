"""What a running server holds: the predictor, the log, the store, metrics and auth.

Built once at start-up (`Runtime.start`), kept on `app.state.runtime`, closed at shutdown. The
alias-following loop (`follow_aliases`) runs beside the requests.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from feast import FeatureStore

from keel.errors import KeelError, LogUnavailable
from keel.feature_store import open_store
from keel.provenance import code_commit
from keel.settings import Settings
from registry.client import mlflow_client
from serving.batcher import MicroBatcher
from serving.metrics import Metrics
from serving.model_cache import ModelCache
from serving.online_features import FeastOnlineFeatures, FeatureSource
from serving.prediction_log import PredictionLog, PredictionRecord, open_prediction_log
from serving.predictor import Predictor

logger = logging.getLogger(__name__)


def feature_source(store: FeatureStore, settings: Settings) -> FeatureSource:
    """Direct reads of the SQLite or Redis online store when enabled, else Feast's own API."""
    kind = store.config.online_store.type
    if settings.direct_online_reads and kind == "sqlite":
        from serving.direct_features import DirectSqliteFeatures

        return DirectSqliteFeatures(store, settings.feature_service)
    if settings.direct_online_reads and kind == "redis":
        import redis

        from serving.direct_features import DirectRedisFeatures

        client = redis.Redis.from_url(settings.redis_url)
        return DirectRedisFeatures(store, settings.feature_service, client)
    return FeastOnlineFeatures(store, settings.feature_service)


@dataclass
class Runtime:
    settings: Settings
    store: FeatureStore
    predictor: Predictor
    log: PredictionLog
    metrics: Metrics
    batcher: MicroBatcher = field(init=False)

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
            raise LogUnavailable(
                f"the prediction log could not commit ({type(error).__name__}); nothing was "
                "answered, retry"
            ) from error
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
        store = open_store(settings)
        models = ModelCache(mlflow_client(settings), settings.model_name)
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
        except KeelError as error:  # no champion yet: serve 503 until one appears
            logger.warning("starting without a model: %s", error.message)
        return runtime

    def reload(self) -> bool:
        """Follow the aliases now; True when the served versions changed."""
        try:
            changed = self.predictor.models.refresh()
        except Exception:
            self.metrics.reloads.labels("failed").inc()
            raise
        self.metrics.reloads.labels("changed" if changed else "unchanged").inc()
        current = self.predictor.models.current
        if current is not None:
            for alias, version in current.versions().items():
                self.metrics.model_version.labels(alias).set(float(version or 0))
        return changed

    async def follow_aliases(self) -> None:
        """Check the aliases every `reload_interval` seconds; a failed check keeps serving."""
        while True:
            await asyncio.sleep(self.settings.reload_interval)
            try:
                await asyncio.to_thread(self.reload)
            except Exception as error:
                logger.warning("alias check failed, still serving the cached models: %s", error)

    def close(self) -> None:
        self.log.close()

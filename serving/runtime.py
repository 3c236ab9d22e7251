"""What a running server holds: one `ModelService` per served model, the log, the store,
metrics and auth.

Built once at start-up (`Runtime.start`), kept on `app.state.runtime`, closed at shutdown. With a
keel.yaml (`keel.core.project.discover_project`) every model of it is served from the project's
Feast
repo; without one, the built-in example's model (`KEEL_MODEL_NAME`), which also answers the
short route `/v1/predict` in the names of `settings.keyed_route`. The alias-following
loop (`follow_aliases`) runs beside the requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from feast import FeatureStore

from keel.core.backends import redact_url
from keel.core.errors import LogUnavailable, NotFound
from keel.core.project import Project, discover_project
from keel.core.provenance import code_commit
from keel.core.settings import KeyedRoute, Settings
from registry.registry_client import serving_registry_client
from serving.batcher import MicroBatcher
from serving.heap import settle_heap
from serving.log_disk import disk_problem
from serving.metrics import Metrics
from serving.model_cache import workspace_model_cache
from serving.model_service import Interface, ModelService
from serving.online_features import FeastOnlineFeatures, FeatureSource
from serving.prediction_log import PredictionLog, PredictionRecord, open_prediction_log
from serving.predictor import Predictor
from serving.registry_probe import registry_probe

logger = logging.getLogger(__name__)

KEYED_PATH = "/v1/predict"
"""Where the default model's short route (`KeyedRoute`) answers."""


def repo_redis_url(store: FeatureStore) -> str | None:
    """The Redis the Feast repo's online store names (its `connection_string`, Feast's
    `host:port,db=N,password=...,ssl=true`) as a `redis://` URL; None for a cluster or a
    sentinel, which direct reads do not reach. Keel's churn repo names `KEEL_REDIS_URL`'s."""
    from urllib.parse import quote

    from feast.infra.online_stores.redis import RedisOnlineStore, RedisType

    config = store.config.online_store
    if config.redis_type != RedisType.redis:
        return None
    nodes, params = RedisOnlineStore._parse_connection_string(config.connection_string)
    user = quote(str(params.get("username", "")), safe="")
    password = params.get("password")
    credentials = f"{user}:{quote(str(password), safe='')}@" if password is not None else ""
    scheme = "rediss" if params.get("ssl") in (True, "true", "True") else "redis"
    return f"{scheme}://{credentials}{nodes[0]['host']}:{nodes[0]['port']}/{params.get('db', 0)}"


def feature_source(store: FeatureStore, service: str, settings: Settings) -> FeatureSource:
    """Direct reads of the SQLite or Redis online store when enabled and able to read the
    service (`DirectReadsUnsupported` names what they cannot reproduce), else Feast's own API.
    Both read the online store the repo's feature_store.yaml names."""
    from serving import direct_features
    from serving.on_demand_views import DirectReadsUnsupported

    kind = store.config.online_store.type
    if not settings.direct_online_reads or kind not in ("sqlite", "redis"):
        return FeastOnlineFeatures(store, service)
    try:
        if kind == "sqlite":
            return direct_features.DirectSqliteFeatures(store, service)
        url = repo_redis_url(store)
        if url is None:
            raise DirectReadsUnsupported(
                f"a Redis {store.config.online_store.redis_type.value} online store"
            )
        client = direct_features.redis_client(url, timeout=settings.online_timeout)
        return direct_features.DirectRedisFeatures(store, service, client)
    except DirectReadsUnsupported as reason:
        logger.info("feature service %s: Feast's own reads (%s)", service, reason)
        return FeastOnlineFeatures(store, service)


def registry_interface(store: FeatureStore | None, source: FeatureSource) -> Interface:
    """The service's join keys and request fields with their Feast types (from the registry)."""
    if store is None:  # an in-memory runtime: names only
        return Interface(
            source.service,
            dict.fromkeys(source.join_keys, ""),
            dict.fromkeys(source.request_fields, ""),
        )
    from keel.feast_plumbing.project_checks import service_schema

    schema = service_schema(store, store.get_feature_service(source.service))
    return Interface(
        source.service,
        {key.name: key.dtype for key in schema.join_keys},
        {f.name: f.dtype for f in schema.request_fields},
    )


def log_location(settings: Settings) -> str:
    """Where the profile's prediction log lives, for error messages (password redacted)."""
    if settings.profile == "production":
        return f"PostgreSQL at {redact_url(settings.postgres_url)}"
    from keel.core.workspace import Workspace

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
    predictors: Sequence[Predictor] | Predictor
    """One per served model (a single one: that model alone)."""
    log: PredictionLog
    metrics: Metrics
    project: Project | None = None
    """The keel.yaml served; None: the built-in example."""
    models: dict[str, ModelService] = field(init=False)
    """Every served model by name, in keel.yaml's order."""
    log_error: str | None = field(init=False, default=None)
    """Why the last commit of the prediction log failed; None once a commit succeeds."""
    log_failed_at: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        if isinstance(self.predictors, Predictor):
            self.predictors = [self.predictors]
        self.models = {}
        keyed = self.keyed_route
        for predictor in self.predictors:
            self.models[predictor.name] = ModelService(
                predictor,
                MicroBatcher(predictor, self.commit, max_entities=self.settings.max_batch),
                registry_interface(self.store, predictor.features),
                KEYED_PATH
                if keyed is not None and predictor.name == keyed.model
                else f"/v1/models/{predictor.name}/predict",
            )

    @property
    def keyed_route(self) -> KeyedRoute | None:
        """The short route `/v1/predict` serves: the built-in example's; None with a keel.yaml
        (then `/v1/predict` answers 404 naming the served models)."""
        return self.settings.keyed_route if self.project is None else None

    def model(self, name: str) -> ModelService:
        """The served model `name`, or `NotFound` naming the served ones."""
        served = self.models.get(name)
        if served is None:
            names = ", ".join(self.models) or "none"
            raise NotFound(f"model {name!r} is not served here; served models: {names}")
        return served

    @property
    def default(self) -> ModelService:
        """The model the short route `/v1/predict` answers: `KEEL_MODEL_NAME`."""
        return self.model(self.settings.model_name)

    @property
    def predictor(self) -> Predictor:
        """The default model's predictor."""
        return self.default.predictor

    @property
    def batcher(self) -> MicroBatcher:
        return self.default.batcher

    @property
    def registry_status(self) -> str:
        """`ok`, or each model's registry trouble (`/readyz`)."""
        troubled = {
            n: m.registry_status for n, m in self.models.items() if m.registry_status != "ok"
        }
        if not troubled:
            return "ok"
        if len(self.models) == 1:
            return next(iter(troubled.values()))
        return "; ".join(f"{name}: {status}" for name, status in troubled.items())

    @property
    def alias_problem(self) -> str | None:
        problems = [m.alias_problem for m in self.models.values() if m.alias_problem]
        return "; ".join(problems) if problems else None

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
        # Counted per label set, then added once each (a batch of 100 records was 100 updates).
        served: Counter[tuple[str, str, str]] = Counter()
        broken: Counter[tuple[str, str, str]] = Counter()
        for record in records:
            served[(record.model_name, record.model_version, record.served_by)] += 1
            if record.violations and record.served_by != "shadow":  # answered predictions only
                for feature in record.violations:
                    broken[(feature, record.model_name, record.model_version)] += 1
        for labels, count in served.items():
            self.metrics.predictions.labels(*labels).inc(count)
        for labels, count in broken.items():
            self.metrics.feature_violations.labels(*labels).inc(count)

    @classmethod
    def start(cls, settings: Settings, metrics: Metrics) -> Runtime:
        """Every model of keel.yaml (or the built-in example's), each on its first alias
        check."""

        project = discover_project()
        if project is None:
            from keel.feast_plumbing.feature_store import open_store

            store = open_store(settings, online_timeout=settings.online_timeout)
            served = [(settings.model_name, settings.feature_service)]
        else:
            from keel.feast_plumbing.project_checks import open_store as open_project_store

            store = open_project_store(project)
            served = [(model.name, model.feature_service) for model in project.models]
        client = serving_registry_client(settings)  # alias reads without importing MLflow
        probe = registry_probe(settings)
        commit = code_commit()
        predictors = []
        keyed = settings.keyed_route if project is None else None
        for name, service in served:
            cache = workspace_model_cache(settings, name, client=client, probe=probe)
            predictors.append(
                Predictor(
                    cache,
                    feature_source(store, service, settings),
                    code_commit=commit,
                    challenger_share=settings.challenger_share,
                    shadow=settings.shadow,
                    entity_noun=keyed.noun if keyed and name == keyed.model else "entity",
                )
            )
        log = open_prediction_log(settings)
        runtime = cls(settings, store, predictors, log, metrics, project)
        for model in runtime.models.values():
            model.start(metrics)
        return runtime

    def reload(self) -> bool:
        """Follow every model's aliases now; True when any served version changed. Every
        model is checked; the first failure is raised afterwards."""
        changed = False
        failure: Exception | None = None
        for model in self.models.values():
            try:
                changed = model.reload(self.metrics) or changed
            except Exception as error:
                failure = failure or error
        if failure is not None:
            raise failure
        return changed

    def publish_versions(self) -> None:
        for model in self.models.values():
            model.publish_versions(self.metrics)

    async def follow_aliases(self) -> None:
        """Check the aliases every `reload_interval` seconds; a failed check keeps serving."""
        while True:
            await asyncio.sleep(self.settings.reload_interval)
            await self.check_aliases()

    async def check_aliases(self) -> None:
        """One alias check of every model (see `ModelService.check_aliases`); a version
        loaded leaves the GC's scans (`settle_heap`)."""
        changed = False
        for model in self.models.values():
            changed = await asyncio.to_thread(model.check_aliases, self.metrics) or changed
        if changed:
            settle_heap()

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
        from keel.core.workspace import Workspace

        return disk_problem(Workspace.from_settings(self.settings).prediction_log)

    def close(self) -> None:
        self.log.close()

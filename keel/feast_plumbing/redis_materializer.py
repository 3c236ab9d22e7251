"""Materialization into Feast's Redis online store, in Feast's format, without Feast's per-row work.

Feast's local engine reads the window, then converts and writes row by row (one `ValueProto`
object per cell, one dict per row): about 11.5k rows/s here (issue #9). This writer keeps every
observable part of Feast's path and changes only how the work is done:

- rows: the offline store's own `pull_latest_from_table_or_query` (the latest row per entity in
  [start, end], created timestamp as tie-break: the rows Feast's engine dedups to);
- values: whole columns encoded to the same `ValueProto` bytes (`keel.feast_plumbing.proto_values`);
- keys and fields: Feast's serialized entity key + project (`keel.feast_plumbing.online_keys`,
  where serving's readers build the same keys), `mmh3("view:feature")`, `_ts:view`;
- writes: per chunk of keys, one read of the stored `_ts` and one write
  (`keel.feast_plumbing.redis_writer`);
  like Feast, a row is skipped when the stored `_ts` is as new or newer (unless `skip_dedup`),
  and keys get `key_ttl_seconds` if configured;
- registry: the view's state moves to MATERIALIZING and then, with the interval recorded by
  `registry.apply_materialization`, to AVAILABLE_ONLINE, as `FeatureStore.materialize` does.

tests/integration/test_redis_materializer.py proves the Redis hashes byte-identical to Feast's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
from feast import FeatureStore, FeatureView, utils
from feast.data_source import DataSource
from feast.feature_view import FeatureViewState
from feast.infra.offline_stores.offline_utils import get_offline_store_from_config
from feast.infra.online_stores.helpers import _mmh3, compute_versioned_name
from feast.infra.online_stores.redis import RedisOnlineStore, RedisOnlineStoreConfig
from feast.repo_config import RepoConfig

from keel.feast_plumbing.online_keys import redis_keys
from keel.feast_plumbing.proto_values import encode_column, timestamp_cells
from keel.feast_plumbing.redis_writer import CHUNK_ROWS, EncodedRows, Progress, write_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ViewWrite:
    """What one view's materialization did: rows read, written, and skipped as not newer, with
    the wall time of the whole view and of its read, encode and write phases."""

    view: str
    rows: int
    written: int
    skipped: int
    seconds: float
    read_seconds: float = 0.0
    encode_seconds: float = 0.0
    write_seconds: float = 0.0


def uses_keel_writer(config: RepoConfig) -> bool:
    """True when materialization can be Keel's: a Redis online store fed by the local engine."""
    engine = config.batch_engine_config
    engine_type = engine.get("type") if isinstance(engine, dict) else engine
    if engine_type is None:
        engine_type = getattr(config.batch_engine, "type", None)
    return (
        isinstance(config.online_store, RedisOnlineStoreConfig)
        and engine_type == "local"
        and config.provider == "local"
    )


def supports_view(view: object) -> bool:
    """Plain batch feature views only; views with transforms or aggregations stay with Feast."""
    return (
        type(view) is FeatureView
        and view.batch_source is not None
        and not getattr(view, "feature_transformation", None)
        and not getattr(view, "aggregations", None)
    )


def _batch_source(view: FeatureView) -> DataSource:
    if view.batch_source is None:
        raise ValueError(f"feature view {view.name} has no batch source to materialize from")
    return view.batch_source


def latest_rows(store: FeatureStore, view: FeatureView, start: datetime, end: datetime) -> pa.Table:
    """The latest row per entity in [start, end] from the configured offline store, with the
    view's field mapping applied (what Feast's local engine writes)."""
    config = store.config
    source = _batch_source(view)
    entities = [store.get_entity(name) for name in view.entities]
    join_keys, features, ts_column, created_column = utils._get_column_names(view, entities)
    job = get_offline_store_from_config(config.offline_store).pull_latest_from_table_or_query(
        config=config,
        data_source=source,
        join_key_columns=join_keys,
        feature_name_columns=features,
        timestamp_field=ts_column,
        created_timestamp_column=created_column,
        start_date=utils.make_tzaware(start),
        end_date=utils.make_tzaware(end),
    )
    table = job.to_arrow()
    mapping = source.field_mapping or {}
    return table.rename_columns([mapping.get(name, name) for name in table.column_names])


def encode_rows(table: pa.Table, view: FeatureView, config: RepoConfig) -> EncodedRows:
    """A view's rows as Feast's Redis keys, hash fields and `ValueProto` bytes."""
    name = compute_versioned_name(view, config.registry.enable_online_feature_view_versioning)
    ts_cells, ts_nanos = timestamp_cells(table.column(_batch_source(view).timestamp_field))
    return EncodedRows(
        keys=redis_keys(table, view, config),
        ts_field=f"_ts:{name}".encode(),
        ts_cells=ts_cells,
        ts_nanos=ts_nanos,
        fields=[_mmh3(f"{name}:{feature.name}") for feature in view.features],
        columns=[
            encode_column(table.column(feature.name), feature.dtype.to_value_type())
            for feature in view.features
        ],
    )


class RedisMaterializer:
    """Materializes a store's plain feature views into its Redis online store."""

    def __init__(
        self, store: FeatureStore, *, chunk_rows: int = CHUNK_ROWS, scripted: bool | None = None
    ) -> None:
        if not isinstance(store.config.online_store, RedisOnlineStoreConfig):
            raise ValueError(
                f"expected a redis online store, got {store.config.online_store.type!r}"
            )
        self.store = store
        self.chunk_rows = chunk_rows
        self.scripted = scripted  # Lua scripts per chunk, or per-key pipelines (None: by client)
        # Feast's own client factory: same connection string rules (cluster, sentinel, ssl).
        self.client = RedisOnlineStore()._get_client(store.config.online_store)

    def materialize(
        self,
        views: Sequence[str],
        *,
        start: datetime,
        end: datetime,
        progress: Progress | None = None,
    ) -> list[ViewWrite]:
        """Write the latest row per entity in [start, end] of each view (Feast's window)."""
        start, end = utils.make_tzaware(start), utils.make_tzaware(end)
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        results = []
        for name in views:
            view = self.store.registry.get_feature_view(name, self.store.project)
            if not supports_view(view):
                raise ValueError(f"feature view {name} has transforms or no batch source")
            results.append(self._materialize_view(view, start, end, progress))
        # As `FeatureStore.materialize`: refresh the services that keep precomputed vectors.
        for service in self.store.list_feature_services():
            served = {projection.name for projection in service.feature_view_projections}
            if service.precompute_online and served & set(views):
                self.store.precompute_feature_service(service.name)
        return results

    def _materialize_view(
        self, view: FeatureView, start: datetime, end: datetime, progress: Progress | None
    ) -> ViewWrite:
        clock = [time.perf_counter()]

        def lap() -> float:
            clock.append(time.perf_counter())
            return clock[-1] - clock[-2]

        previous = self._mark_materializing(view)
        config = self.store.config
        online = config.online_store
        try:
            table = latest_rows(self.store, view, start, end)
            read_s = lap()
            rows = encode_rows(table, view, config)
            encode_s = lap()
            written = write_rows(
                self.client,
                rows,
                key_ttl_seconds=online.key_ttl_seconds,
                skip_dedup=online.skip_dedup,
                chunk_rows=self.chunk_rows,
                scripted=self.scripted,
                progress=progress,
            )
            write_s = lap()
        except Exception:
            if previous is not None:
                view.state = previous
                self.store.registry.apply_feature_view(view, self.store.project, commit=True)
            raise
        self.store.registry.apply_materialization(view, self.store.project, start, end)
        lap()
        logger.info("materialized %s: %d rows, %d written", view.name, table.num_rows, written)
        skipped = table.num_rows - written
        return ViewWrite(
            view.name,
            table.num_rows,
            written,
            skipped,
            clock[-1] - clock[0],
            read_s,
            encode_s,
            write_s,
        )

    def _mark_materializing(self, view: FeatureView) -> FeatureViewState | None:
        """Feast's state transition before a write; the state to restore if the write fails."""
        previous = view.state
        if previous == FeatureViewState.STATE_UNSPECIFIED:
            return None
        if previous == FeatureViewState.MATERIALIZING:
            return FeatureViewState.GENERATED
        if not previous.can_transition_to(FeatureViewState.MATERIALIZING):
            raise ValueError(
                f"FeatureView {view.name} cannot transition from {previous.name} to MATERIALIZING."
            )
        view.state = FeatureViewState.MATERIALIZING
        self.store.registry.apply_feature_view(view, self.store.project, commit=True)
        return previous

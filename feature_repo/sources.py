"""Offline sources: Parquet feature tables written by `keel data generate`.

Paths are built from the data directory that Keel passes in, always absolute: Feast's DuckDB
store would resolve a relative path against the current directory, not the repo. The `spark`
profile reads the same tables through `SparkSource`s of the same names (Feast's Spark offline
store accepts nothing else), from `spark_uri` when the executors see them elsewhere (s3a://).
"""

from __future__ import annotations

from pathlib import Path

from feast import FileSource, RequestSource
from feast.data_format import ParquetFormat
from feast.data_source import DataSource
from feast.field import Field
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.types import Int64

from feature_repo.example import REQUEST_FIELD
from feature_repo.tables import ACTIVITY_TABLE, PROFILE_TABLE, SUPPORT_TABLE

TIMESTAMP_FIELD = "event_timestamp"


def _parquet_source(name: str, features_dir: Path, table: str, spark_uri: str | None) -> DataSource:
    if spark_uri is not None:
        return SparkSource(
            name=name,
            path=f"{spark_uri.rstrip('/')}/{table}",
            file_format="parquet",
            timestamp_field=TIMESTAMP_FIELD,
        )
    return FileSource(
        name=name,
        path=str((features_dir / table).resolve()),
        file_format=ParquetFormat(),
        timestamp_field=TIMESTAMP_FIELD,
    )


def profile_source(features_dir: Path, spark_uri: str | None = None) -> DataSource:
    """One row per customer, stamped at signup."""
    return _parquet_source("customer_profile_source", features_dir, PROFILE_TABLE, spark_uri)


def activity_source(features_dir: Path, spark_uri: str | None = None) -> DataSource:
    """One row per customer per active day: rolling activity aggregates."""
    return _parquet_source("customer_activity_source", features_dir, ACTIVITY_TABLE, spark_uri)


def support_source(features_dir: Path, spark_uri: str | None = None) -> DataSource:
    """One row per customer per active day: rolling support-ticket counts."""
    return _parquet_source("customer_support_source", features_dir, SUPPORT_TABLE, spark_uri)


request_context = RequestSource(
    name="request_context",
    schema=[Field(name=REQUEST_FIELD, dtype=Int64, description="Scoring time, Unix seconds.")],
    description="Supplied per request: the snapshot time in training, now in serving.",
)

"""Offline sources: Parquet feature tables written by `keel data generate`.

Paths are built from the data directory that Keel passes in, always absolute: Feast's DuckDB
store would resolve a relative path against the current directory, not the repo.
"""

from __future__ import annotations

from pathlib import Path

from feast import FileSource, RequestSource
from feast.data_format import ParquetFormat
from feast.field import Field
from feast.types import Int64

from feature_repo.tables import ACTIVITY_TABLE, PROFILE_TABLE, SUPPORT_TABLE


def _parquet_source(name: str, features_dir: Path, table: str) -> FileSource:
    return FileSource(
        name=name,
        path=str((features_dir / table).resolve()),
        file_format=ParquetFormat(),
        timestamp_field="event_timestamp",
    )


def profile_source(features_dir: Path) -> FileSource:
    """One row per customer, stamped at signup."""
    return _parquet_source("customer_profile_source", features_dir, PROFILE_TABLE)


def activity_source(features_dir: Path) -> FileSource:
    """One row per customer per active day: rolling activity aggregates."""
    return _parquet_source("customer_activity_source", features_dir, ACTIVITY_TABLE)


def support_source(features_dir: Path) -> FileSource:
    """One row per customer per active day: rolling support-ticket counts."""
    return _parquet_source("customer_support_source", features_dir, SUPPORT_TABLE)


request_context = RequestSource(
    name="request_context",
    schema=[Field(name="as_of_unix", dtype=Int64, description="Scoring time, Unix seconds.")],
    description="Supplied per request: the snapshot time in training, now in serving.",
)

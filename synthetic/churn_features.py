"""Raw business tables -> the Parquet feature tables behind the Feast feature views.

One DuckDB pass per table; windows are calendar ranges (7/30/90 days), and a row describing
day D is stamped at midnight after D, so nothing from day D is visible at a snapshot taken on D.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from string import Template

import duckdb

from feature_repo.tables import ACTIVITY_TABLE, PROFILE_TABLE, SUPPORT_TABLE
from keel.core.errors import InvalidInput, WorkspaceNotReady

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers.parquet": ("customer_id", "plan", "region", "signup_at", "monthly_price"),
    "activity.parquet": ("customer_id", "activity_date", "logins", "sessions", "minutes", "spend"),
    "tickets.parquet": ("customer_id", "opened_at", "category"),
}

PROFILE_SQL = """
SELECT customer_id, plan, region, monthly_price,
       CAST(epoch(signup_at) AS BIGINT) AS signup_unix,
       signup_at AS event_timestamp
FROM read_parquet($customers)
ORDER BY customer_id
"""

ACTIVITY_SQL = """
SELECT customer_id,
       activity_date + INTERVAL 1 DAY AS event_timestamp,
       CAST(SUM(logins) OVER w7 AS BIGINT) AS logins_7d,
       CAST(SUM(logins) OVER w30 AS BIGINT) AS logins_30d,
       CAST(SUM(logins) OVER w90 AS BIGINT) AS logins_90d,
       CAST(SUM(minutes) OVER w7 AS DOUBLE) AS minutes_7d,
       CAST(SUM(minutes) OVER w30 AS DOUBLE) AS minutes_30d,
       CAST(SUM(minutes) OVER w90 AS DOUBLE) AS minutes_90d,
       CAST(SUM(sessions) OVER w30 AS BIGINT) AS sessions_30d,
       CAST(COUNT(*) FILTER (WHERE logins > 0) OVER w30 AS BIGINT) AS active_days_30d,
       CAST(SUM(spend) OVER w30 AS DOUBLE) AS spend_30d,
       CAST(SUM(spend) OVER w90 AS DOUBLE) AS spend_90d
FROM (SELECT *, CAST(epoch(activity_date) // 86400 AS BIGINT) AS day_number
      FROM read_parquet($activity))
WINDOW
  w7 AS (PARTITION BY customer_id ORDER BY day_number
         RANGE BETWEEN 6 PRECEDING AND CURRENT ROW),
  w30 AS (PARTITION BY customer_id ORDER BY day_number
          RANGE BETWEEN 29 PRECEDING AND CURRENT ROW),
  w90 AS (PARTITION BY customer_id ORDER BY day_number
          RANGE BETWEEN 89 PRECEDING AND CURRENT ROW)
ORDER BY customer_id, event_timestamp
"""

SUPPORT_SQL = """
WITH daily AS (
  SELECT customer_id, date_trunc('day', opened_at) AS day,
         COUNT(*) AS tickets,
         COUNT(*) FILTER (WHERE category = 'cancellation') AS cancellations
  FROM read_parquet($tickets)
  GROUP BY ALL
),
days AS (
  SELECT a.customer_id, a.activity_date AS day,
         CAST(epoch(a.activity_date) // 86400 AS BIGINT) AS day_number,
         COALESCE(d.tickets, 0) AS tickets, COALESCE(d.cancellations, 0) AS cancellations
  FROM read_parquet($activity) a
  LEFT JOIN daily d ON d.customer_id = a.customer_id AND d.day = a.activity_date
)
SELECT customer_id,
       day + INTERVAL 1 DAY AS event_timestamp,
       CAST(SUM(tickets) OVER w30 AS BIGINT) AS tickets_30d,
       CAST(SUM(tickets) OVER w90 AS BIGINT) AS tickets_90d,
       CAST(SUM(cancellations) OVER w30 AS BIGINT) AS cancellation_tickets_30d
FROM days
WINDOW
  w30 AS (PARTITION BY customer_id ORDER BY day_number
          RANGE BETWEEN 29 PRECEDING AND CURRENT ROW),
  w90 AS (PARTITION BY customer_id ORDER BY day_number
          RANGE BETWEEN 89 PRECEDING AND CURRENT ROW)
ORDER BY customer_id, event_timestamp
"""


@dataclass(frozen=True)
class FeatureTables:
    """Where the feature tables were written and how many rows each holds."""

    paths: dict[str, Path]
    rows: dict[str, int]


def _check_raw(raw_dir: Path) -> dict[str, str]:
    """Each raw file exists and has its columns; returns file name -> absolute path."""
    found: dict[str, str] = {}
    for name, columns in REQUIRED_COLUMNS.items():
        path = raw_dir / name
        if not path.exists():
            raise WorkspaceNotReady(f"{path} is missing: run `keel data generate` first")
        present = set(duckdb.read_parquet(str(path)).columns)
        missing = [c for c in columns if c not in present]
        if missing:
            raise InvalidInput(f"{path}: missing column(s) {', '.join(missing)}")
        found[name.removesuffix(".parquet")] = str(path)
    return found


def _literal(text: str) -> str:
    """A SQL string literal (DuckDB takes no bound parameters inside COPY)."""
    return "'" + text.replace("'", "''") + "'"


def _write(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, str], out: Path) -> int:
    """Run `sql` into `out` atomically (temporary file, then rename); returns the row count."""
    tmp = out.with_suffix(".parquet.tmp")
    query = Template(sql).substitute({name: _literal(path) for name, path in params.items()})
    con.execute(f"COPY ({query}) TO {_literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
    os.replace(tmp, out)
    count = con.execute("SELECT COUNT(*) FROM read_parquet(?)", [str(out)]).fetchone()
    return int(count[0]) if count else 0


def build_feature_tables(raw_dir: Path, features_dir: Path) -> FeatureTables:
    """Compute the profile, activity and support tables from the raw tables."""
    raw = _check_raw(raw_dir)
    features_dir.mkdir(parents=True, exist_ok=True)
    plan = {
        PROFILE_TABLE: (PROFILE_SQL, {"customers": raw["customers"]}),
        ACTIVITY_TABLE: (ACTIVITY_SQL, {"activity": raw["activity"]}),
        SUPPORT_TABLE: (SUPPORT_SQL, {"tickets": raw["tickets"], "activity": raw["activity"]}),
    }
    paths: dict[str, Path] = {}
    rows: dict[str, int] = {}
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        for table, (sql, params) in plan.items():
            out = features_dir / table
            rows[table] = _write(con, sql, params, out)
            paths[table] = out
    return FeatureTables(paths=paths, rows=rows)

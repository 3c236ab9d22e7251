"""Direct SQL access to MLflow's backend database, for what MLflow's client cannot do atomically.

MLflow commits every client call on its own, so an alias move and its history row can only be
one transaction if Keel writes both through its own connection to the same database. This module
owns those connections: one cached SQLAlchemy engine per URL; SQLite write transactions
(`write_transaction`) that take the write lock up front with `BEGIN IMMEDIATE`; short PostgreSQL
connect timeouts; errors that name the database without its password.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from keel.core.backends import is_tracking_server, mlflow_tracking_uri, redact_url
from keel.core.errors import BackendUnavailable, WorkspaceNotReady
from keel.core.settings import Settings

SQLITE_BUSY_TIMEOUT_S = 30.0
POSTGRES_CONNECT_TIMEOUT_S = 5
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")
WRITER_OPTION = "keel_writer"


def is_database_uri(uri: str) -> bool:
    """True for the SQL backend stores Keel can open itself (SQLite, PostgreSQL)."""
    scheme = uri.partition(":")[0].split("+")[0].lower()
    return scheme in DATABASE_SCHEMES


def _sqlite_autocommit_driver(dbapi_connection: Any, _record: object) -> None:
    # pysqlite's own implicit transactions would defer the write lock; Keel emits BEGIN itself.
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # Writers take the write lock when the transaction starts, so a read-then-write cannot
    # deadlock and concurrent movers queue (up to the busy timeout) instead of failing half-way.
    # Readers begin deferred and never block MLflow's own writers.
    writer = connection.get_execution_options().get(WRITER_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def write_transaction(engine: Engine) -> Any:
    """`engine.begin()` for a transaction that will write (SQLite: `BEGIN IMMEDIATE`)."""
    return engine.execution_options(**{WRITER_OPTION: True}).begin()


@lru_cache(maxsize=16)
def database_engine(url: str) -> Engine:
    """The engine Keel uses for `url` (cached: engines own connection pools)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_autocommit_driver)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(
        parsed,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
        pool_pre_ping=True,
    )


def registry_database_url(settings: Settings) -> str:
    """The SQLAlchemy URL of MLflow's backend store, or a clear error if Keel cannot open it.

    An `http(s)://` tracking server hides its database: alias moves and their history need the
    database itself, so Keel uses `KEEL_MLFLOW_BACKEND_STORE_URI` (the server's own backend
    store) and refuses without it rather than writing an alias without its history.
    """
    uri = mlflow_tracking_uri(settings)
    if is_tracking_server(uri) and settings.mlflow_backend_store_uri:
        uri = settings.mlflow_backend_store_uri
        if not is_database_uri(uri):
            raise BackendUnavailable(
                f"KEEL_MLFLOW_BACKEND_STORE_URI must name the tracking server's database "
                f"(sqlite:// or postgresql://), got {redact_url(uri)}"
            )
    elif not is_database_uri(uri):
        raise BackendUnavailable(
            f"alias history needs direct access to MLflow's backend database, but the tracking "
            f"URI is {redact_url(uri)}; set KEEL_MLFLOW_BACKEND_STORE_URI to that server's "
            "backend store (postgresql://…) to move aliases, or use the local/production profile"
        )
    parsed = make_url(uri)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database)
        if not path.exists():
            raise WorkspaceNotReady(
                f"no MLflow registry at {path}: train a model first with `keel train`"
            )
    return uri


def connect_check(url: str) -> Engine:
    """The engine for `url` after one round trip; `BackendUnavailable` names the URL if down."""
    engine = database_engine(url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise BackendUnavailable(
            f"cannot reach MLflow's database at {redact_url(url)}: {reason}"
        ) from error
    return engine

"""Backend addresses per profile: one place maps settings to Feast's and MLflow's URLs."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from keel.core.settings import Settings
from keel.core.workspace import Workspace


def redact_url(url: str) -> str:
    """The URL without its password, safe for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def sqlalchemy_postgres_url(url: str) -> str:
    """`postgresql://…` as SQLAlchemy's psycopg 3 URL (the driver Keel installs)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
        raise ValueError(f"expected a postgresql:// URL, got {redact_url(url)!r}")
    return f"postgresql+psycopg://{rest}"


def feast_redis_connection(url: str, *, timeout: float | None = None) -> str:
    """`redis://[:password@]host:port/db` as Feast's `host:port,db=N[,password=…]` string;
    with `timeout`, Feast's client gives up after that many seconds to connect or to answer and
    retries once at once (`retry=null`), like Keel's direct reads: redis-py's defaults wait
    forever on a Redis that accepts but never answers, and back off for seconds between
    three retries (a hung Redis held `/v1/features` 11 s with the timeout alone)."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise ValueError(f"expected a redis:// URL, got {redact_url(url)!r}")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 6379
    db = parts.path.lstrip("/") or "0"
    connection = f"{host}:{port},db={db}"
    if parts.password:
        connection += f",password={parts.password}"
    if parts.scheme == "rediss":
        connection += ",ssl=true"
    if timeout is not None:
        connection += f",socket_timeout={timeout:g},socket_connect_timeout={timeout:g},retry=null"
    return connection


def mlflow_tracking_uri(settings: Settings) -> str:
    """MLflow's tracking (and registry) URI for the profile, unless overridden."""
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    if settings.profile == "production":
        return sqlalchemy_postgres_url(settings.postgres_url)
    return f"sqlite:///{Workspace.from_settings(settings).mlflow_db}"


def is_tracking_server(uri: str) -> bool:
    """True for an MLflow tracking server reached over HTTP(S) (its database is hidden)."""
    return urlsplit(uri).scheme.lower() in {"http", "https"}

"""Is the MLflow registry reachable? Asked before MLflow's client, which retries for minutes.

An `http(s)://` tracking server is asked `GET /health`; a PostgreSQL backend store gets one
connection; a SQLite file is local and always reachable. Each answers within
`KEEL_REGISTRY_TIMEOUT` seconds or raises `RegistryUnavailable` naming the (redacted) address.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import httpx
import psycopg

from keel.core.backends import mlflow_tracking_uri, redact_url
from keel.core.errors import RegistryUnavailable
from keel.core.settings import Settings

Probe = Callable[[], None]


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def http_probe(uri: str, timeout: float) -> Probe:
    def probe() -> None:
        try:
            response = httpx.get(f"{uri.rstrip('/')}/health", timeout=timeout)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise RegistryUnavailable(
                f"MLflow tracking server at {redact_url(uri)} is unreachable: {_first_line(error)}"
            ) from error

    return probe


def postgres_probe(uri: str, timeout: float) -> Probe:
    url = uri.replace("postgresql+psycopg://", "postgresql://", 1)

    def probe() -> None:
        try:
            with psycopg.connect(url, connect_timeout=max(1, math.ceil(timeout))) as connection:
                connection.execute("SELECT 1")
        except psycopg.Error as error:
            raise RegistryUnavailable(
                f"MLflow's database at {redact_url(url)} is unreachable: {_first_line(error)}"
            ) from error

    return probe


def registry_probe(settings: Settings) -> Probe:
    """The reachability check of the settings' MLflow registry."""
    uri = mlflow_tracking_uri(settings)
    scheme = uri.partition(":")[0].split("+")[0].lower()
    if scheme in {"http", "https"}:
        return http_probe(uri, settings.registry_timeout)
    if scheme in {"postgresql", "postgres"}:
        return postgres_probe(uri, settings.registry_timeout)
    return lambda: None

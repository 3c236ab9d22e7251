"""Is a server Keel needs answering? One quick round trip, before a library retries for minutes
or fails with its own traceback; `BackendUnavailable` names the server, its URL without the
password, the setting that holds it, and what to do."""

from __future__ import annotations

from keel.core.backends import redact_url
from keel.core.errors import BackendUnavailable

CONNECT_TIMEOUT_S = 5


def _reason(error: BaseException) -> str:
    """The first line of a driver's message (psycopg adds hints on further lines)."""
    lines = str(error).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(error).__name__


def check_postgres(url: str, *, role: str, setting: str = "KEEL_POSTGRES_URL") -> None:
    """One connection to the PostgreSQL database `url`, or `BackendUnavailable`."""
    import psycopg  # here: only the production profile needs it

    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S):
            return
    except psycopg.Error as error:
        raise BackendUnavailable(
            f"cannot reach {role} at {redact_url(conninfo)} ({setting}): {_reason(error)}; start "
            f"PostgreSQL or correct {setting}"
        ) from None


def check_redis(url: str, *, role: str = "the online store (Redis)") -> None:
    """One PING to the Redis server `url`, or `BackendUnavailable`."""
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
    )
    try:
        client.ping()
    except redis.RedisError as error:
        raise BackendUnavailable(
            f"cannot reach {role} at {redact_url(url)} (KEEL_REDIS_URL): {_reason(error)}; "
            "start Redis or correct KEEL_REDIS_URL"
        ) from None
    finally:
        client.close()

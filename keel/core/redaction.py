"""Secrets never reach a log line or an error message: one `logging.Filter` that redacts them.

Redacted: the password of any `scheme://user:password@host` URL (`:***@`), `password=…` in Feast's
Redis and libpq connection strings, and the exact values of the configured secrets (API tokens,
database passwords). The CLI installs the filter on the root logger's handlers at start-up (and
redacts uncaught exceptions before they print), and `keel serve` puts it on uvicorn's handlers in
every worker through `uvicorn_log_config`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import sys
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from keel.core.settings import Settings

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:@/\s]*:)[^@\s/]+(?=@)")
_KEY_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)[^,\s'\"&;]+", re.IGNORECASE)
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configured_secrets(settings: Settings) -> list[str]:
    """The exact secret values in the settings: API tokens and URL passwords."""
    secrets: list[str] = []
    for entry in settings.api_tokens.split(","):
        token = entry.strip().partition("=")[0].strip()
        if token:
            secrets.append(token)
    urls = (
        settings.redis_url,
        settings.postgres_url,
        settings.mlflow_tracking_uri or "",
        settings.mlflow_backend_store_uri or "",
    )
    for url in urls:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            secrets.extend({password, unquote(password)})
    return secrets


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL passwords, `password=…` values and the given exact secrets masked."""
    text = _URL_PASSWORD.sub(rf"\g<head>{MASK}", text)
    text = _KEY_PASSWORD.sub(rf"\g<head>{MASK}", text)
    for secret in sorted(set(secrets), key=len, reverse=True):  # longest first: no partial masks
        if secret and secret != MASK:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (msg % args), exception and stack text, redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> RedactingFilter:
        """The filter for the process settings (the factory uvicorn's log config names)."""
        if settings is None:
            from keel.core.settings import get_settings

            settings = get_settings()
        return cls(configured_secrets(settings))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed %-format: keep it, redacted
            message = str(record.msg)
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text, self.secrets), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def redact_exception(error: BaseException, secrets: Iterable[str] = ()) -> None:
    """Redact the text arguments (and `message`) of `error` and of its causes, in place: an
    uncaught exception is printed by Python's or Typer's hook, not through a log handler."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(
            redact(arg, secrets) if isinstance(arg, str) else arg for arg in current.args
        )
        message = getattr(current, "message", None)
        if isinstance(message, str):
            with contextlib.suppress(AttributeError):  # a read-only property stays
                current.message = redact(message, secrets)  # type: ignore[attr-defined]
        current = current.__cause__ or current.__context__


def install_excepthook(secrets: Iterable[str]) -> None:
    """Wrap `sys.excepthook` so an uncaught exception's text is redacted before it prints."""
    previous = sys.excepthook
    if getattr(previous, "keel_redacting", False):
        previous = previous.keel_previous  # type: ignore[attr-defined]
    kept = tuple(secrets)

    def hook(
        kind: type[BaseException], error: BaseException, traceback: TracebackType | None
    ) -> None:
        redact_exception(error, kept)
        previous(kind, error, traceback)

    hook.keel_redacting = True  # type: ignore[attr-defined]
    hook.keel_previous = previous  # type: ignore[attr-defined]
    sys.excepthook = hook


def install_redaction(settings: Settings) -> RedactingFilter:
    """Put one filter on the root and uvicorn loggers and on every handler they have (a logger's
    filter sees only records logged to it by name; a handler's sees every record it emits)."""
    redacting = RedactingFilter.from_settings(settings)
    for name in (None, *UVICORN_LOGGERS):
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            for old in [f for f in target.filters if isinstance(f, RedactingFilter)]:
                target.removeFilter(old)
            target.addFilter(redacting)
    install_excepthook(redacting.secrets)
    return redacting


def uvicorn_log_config(level: str = "INFO", *, quiet: Iterable[str] = ()) -> dict[str, Any]:
    """uvicorn's own logging config with the filter on every handler, plus a filtered root
    handler (`quiet` loggers at ERROR): applied by uvicorn in each worker process, so workers
    redact too."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "keel.core.redaction.RedactingFilter.from_settings"}}
    config["formatters"]["keel"] = {"format": _LOG_FORMAT}
    config["handlers"]["keel"] = {
        "class": "logging.StreamHandler",
        "formatter": "keel",
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["root"] = {"handlers": ["keel"], "level": level}
    config["loggers"].update({name: {"level": "ERROR"} for name in quiet})
    return config

"""The production profile refuses default or empty credentials, naming the setting, never its value.

The rule (also in infra/README.md and infra/production.env.example):

- `KEEL_REDIS_URL`, `KEEL_POSTGRES_URL`, `KEEL_MLFLOW_BACKEND_STORE_URI` when it names a
  database server (alias moves write there), and `KEEL_MLFLOW_TRACKING_URI` when it carries
  credentials: a password that is a well-known default (`CHANGE_ME`, `changeme`, `password`,
  `postgres`, `admin`, `redis`, `secret`, ...) is always refused. An empty or missing password is
  refused unless the host is loopback (`127.0.0.1`, `localhost`, `::1`) or a Unix socket: a
  trust-auth server on the same machine (development, CI) is not a network credential.
- `KEEL_API_TOKENS`: any token that is, or contains, a placeholder (`CHANGE_ME`, `changeme`) or is a
  well-known default is refused; empty, malformed or short tokens are refused by `keel serve`
  (`serving.auth.TokenAuth`), the one command that reads them.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from keel.core.errors import InsecureConfiguration
from keel.core.settings import Settings

DEFAULT_PASSWORDS = frozenset(
    {
        "change_me",
        "changeme",
        "change-me",
        "password",
        "passw0rd",
        "postgres",
        "postgresql",
        "admin",
        "administrator",
        "root",
        "redis",
        "secret",
        "default",
        "keel",
        "mlflow",
        "test",
        "guest",
        "123456",
        "12345678",
    }
)
PLACEHOLDERS = ("change_me", "changeme", "change-me")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _is_default(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in DEFAULT_PASSWORDS or any(p in lowered for p in PLACEHOLDERS)


def url_problem(url: str) -> str | None:
    """Why the credentials of `url` are unsafe for production, or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        password = unquote(parts.password) if parts.password is not None else ""
    except ValueError:
        return "is not a valid URL"
    if password and _is_default(password):
        return "has a default or placeholder password"
    if not password and host and host not in LOOPBACK_HOSTS:
        return f"has no password for the non-loopback host {host}"
    return None


def token_problem(api_tokens: str) -> str | None:
    """Why `KEEL_API_TOKENS` holds a default token, or None (format is `TokenAuth`'s job)."""
    for position, entry in enumerate(filter(None, (p.strip() for p in api_tokens.split(",")))):
        token = entry.partition("=")[0]
        if _is_default(token):
            return f"entry {position + 1} is a default or placeholder token"
    return None


def production_problems(settings: Settings) -> list[str]:
    """Every unsafe credential setting, by name; empty outside the production profile."""
    if settings.profile != "production":
        return []
    problems: list[str] = []
    urls = {"KEEL_REDIS_URL": settings.redis_url, "KEEL_POSTGRES_URL": settings.postgres_url}
    tracking = settings.mlflow_tracking_uri or ""
    if "@" in tracking:  # only a tracking URI with credentials has credentials to check
        urls["KEEL_MLFLOW_TRACKING_URI"] = tracking
    backend = settings.mlflow_backend_store_uri or ""
    if "://" in backend and not backend.startswith("sqlite:"):  # a server, not a file
        urls["KEEL_MLFLOW_BACKEND_STORE_URI"] = backend
    for name, url in urls.items():
        problem = url_problem(url)
        if problem:
            problems.append(f"{name} {problem}")
    problem = token_problem(settings.api_tokens)
    if problem:
        problems.append(f"KEEL_API_TOKENS {problem}")
    return problems


def refuse_insecure_production(settings: Settings) -> None:
    """Raise `InsecureConfiguration` naming each unsafe setting (values are never shown)."""
    problems = production_problems(settings)
    if problems:
        raise InsecureConfiguration(
            "the production profile refuses default or empty credentials: "
            + "; ".join(problems)
            + " (see infra/production.env.example)"
        )

"""What `keel infra` runs, read from one env file (`infra/local-production.env` by default).

The file is the stack's whole configuration: its `KEEL_*` values are Keel's settings (they win
over the same variables in the shell, so a stray export cannot point the stack elsewhere;
`${VAR:-default}` is expanded from the shell, as the shipped `KEEL_HOME` line does),
`KEEL_INFRA_*` values are the process options below, and any other variable is exported to
both child processes as is. The MLflow server listens where `KEEL_MLFLOW_TRACKING_URI` points
and stores into `KEEL_MLFLOW_BACKEND_STORE_URI`, so clients that source the same file reach it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import URL, make_url

from keel.core.backends import is_tracking_server, redact_url, sqlalchemy_postgres_url
from keel.core.errors import BackendUnavailable, InvalidInput
from keel.core.settings import Settings
from keel.core.workspace import Workspace

DEFAULT_ENV_FILE = Path(__file__).resolve().parents[2] / "infra" / "local-production.env"
PROFILES = ("production",)
SETTINGS_PREFIX = "KEEL_"
INFRA_PREFIX = "KEEL_INFRA_"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class InfraOptions(BaseModel):
    """`KEEL_INFRA_*`: how the processes run (not read by Keel's settings)."""

    model_config = ConfigDict(extra="forbid")

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    mlflow_workers: int = Field(default=2, ge=1, le=16)
    start_timeout: float = Field(default=180.0, gt=0)
    """Seconds each server may take to answer (MLflow migrates a fresh database first)."""
    stop_timeout: float = Field(default=20.0, gt=0)
    """Seconds between SIGTERM and SIGKILL on `keel infra down`."""


@dataclass(frozen=True)
class StackConfig:
    """One env file, validated: Keel's settings, the process options, pass-through variables."""

    env_file: Path
    settings: Settings
    options: InfraOptions
    extra_env: dict[str, str]

    @property
    def state_dir(self) -> Path:
        """Pid records, logs, the generated API token and the MLflow artifacts."""
        return Workspace.from_settings(self.settings).infra_dir

    @property
    def artifacts_dir(self) -> Path:
        """Where the MLflow server keeps every artifact it is sent (`--artifacts-destination`)."""
        return self.state_dir / "mlflow-artifacts"

    @property
    def tracking_uri(self) -> str:
        return str(self.settings.mlflow_tracking_uri)

    @property
    def mlflow_host(self) -> str:
        return urlsplit(self.tracking_uri).hostname or "127.0.0.1"

    @property
    def mlflow_port(self) -> int:
        return urlsplit(self.tracking_uri).port or 80

    @property
    def backend_store_uri(self) -> str:
        """The MLflow server's `--backend-store-uri` (SQLAlchemy's psycopg 3 form)."""
        return sqlalchemy_postgres_url(str(self.settings.mlflow_backend_store_uri))

    @property
    def api_url(self) -> str:
        host = self.options.api_host
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        return f"http://{shown}:{self.options.api_port}"


def check_profile(profile: str) -> str:
    """The profile if `keel infra` can run it, else `InvalidInput` listing those it can."""
    if profile not in PROFILES:
        raise InvalidInput(
            f"--profile {profile!r} is not supported by keel infra: expected one of "
            f"{', '.join(PROFILES)}"
        )
    return profile


def load_stack_config(env_file: Path | None = None) -> StackConfig:
    """Read and check the env file; every problem names the file and the variable."""
    path = (env_file or DEFAULT_ENV_FILE).expanduser().resolve()
    if not path.is_file():
        raise InvalidInput(f"env file {path} not found: pass --env-file with an existing file")
    values: dict[str, str] = {}
    for key, value in dotenv_values(path).items():
        if value is None:
            raise InvalidInput(f"{path}: {key} has no value (expected {key}=…)")
        values[key] = value
    infra = {
        k[len(INFRA_PREFIX) :].lower(): v for k, v in values.items() if k.startswith(INFRA_PREFIX)
    }
    keel = {
        k[len(SETTINGS_PREFIX) :].lower(): v
        for k, v in values.items()
        if k.startswith(SETTINGS_PREFIX) and not k.startswith(INFRA_PREFIX)
    }
    extra = {k: v for k, v in values.items() if not k.startswith(SETTINGS_PREFIX)}
    try:
        settings = Settings(**keel)  # type: ignore[arg-type]
        options = InfraOptions(**infra)  # type: ignore[arg-type]
    except ValidationError as error:
        raise InvalidInput(f"{path}: {_describe(error)}") from None
    config = StackConfig(env_file=path, settings=settings, options=options, extra_env=extra)
    _check_stack(config)
    return config


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        prefix = INFRA_PREFIX if field in InfraOptions.model_fields else SETTINGS_PREFIX
        problems.append(f"{prefix}{field.upper()}: {item['msg']}")
    return "; ".join(problems)


def _check_stack(config: StackConfig) -> None:
    path, settings = config.env_file, config.settings
    if settings.profile != "production":
        raise InvalidInput(
            f"{path}: KEEL_PROFILE is {settings.profile!r}; keel infra runs KEEL_PROFILE=production"
        )
    uri = settings.mlflow_tracking_uri or ""
    parts = urlsplit(uri)
    if not is_tracking_server(uri) or parts.hostname not in LOCAL_HOSTS or not parts.port:
        raise InvalidInput(
            f"{path}: KEEL_MLFLOW_TRACKING_URI must be http://127.0.0.1:<port>, where keel infra "
            f"starts the MLflow server, got {redact_url(uri) or 'nothing'}"
        )
    store = settings.mlflow_backend_store_uri or ""
    try:
        sqlalchemy_postgres_url(store)
    except ValueError:
        raise InvalidInput(
            f"{path}: KEEL_MLFLOW_BACKEND_STORE_URI must be the MLflow server's PostgreSQL "
            f"database (postgresql://…), got {redact_url(store) or 'nothing'}"
        ) from None
    if config.options.api_port == config.mlflow_port:
        raise InvalidInput(
            f"{path}: KEEL_INFRA_API_PORT and the port of KEEL_MLFLOW_TRACKING_URI are both "
            f"{config.mlflow_port}: give each server its own port"
        )


def profile_databases(settings: Settings) -> list[str]:
    """The PostgreSQL databases the profile keeps its state in: Feast's SQL registry and the
    prediction log (`KEEL_POSTGRES_URL`, not in `local`), and a tracking server's backend store
    (`KEEL_MLFLOW_BACKEND_STORE_URI`) when one is set."""
    urls = [] if settings.profile == "local" else [settings.postgres_url]
    store = settings.mlflow_backend_store_uri
    if store and store.partition("://")[0] in {"postgresql", "postgres", "postgresql+psycopg"}:
        urls.append(store)
    return urls


def ensure_databases(settings: Settings) -> list[str]:
    """Create the profile's databases that are missing (`keel features apply` and `keel infra
    up` both do, so either may come first); the names of those created."""
    return [
        make_url(url).database or "" for url in profile_databases(settings) if ensure_database(url)
    ]


def _exists(url: URL) -> bool:
    """True when the database answers; False only when PostgreSQL says it does not exist (so
    an existing database needs no access to the `postgres` maintenance database)."""
    import psycopg  # here, not at the top: `keel infra status` never connects

    try:
        with psycopg.connect(url.render_as_string(hide_password=False), connect_timeout=5):
            return True
    except psycopg.OperationalError as error:
        if f'database "{url.database}" does not exist' in str(error):
            return False
        raise


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database `url` names if it does not exist; True if created."""
    import psycopg
    from psycopg import sql

    parsed = make_url(url).set(drivername="postgresql")
    name = parsed.database
    if not name:
        raise InvalidInput(f"{redact_url(url)} names no database")
    admin = parsed.set(database="postgres")
    try:
        if _exists(parsed):
            return False
        with psycopg.connect(
            admin.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
        ) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                return False
            try:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                return False  # created by a concurrent `up`
            return True
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "unreachable"
        raise BackendUnavailable(
            f"cannot create database {name!r} on {redact_url(url)}: {reason}"
        ) from error

"""`keel infra up|down|status`: the production profile's servers as processes on this machine.

`up` starts an MLflow tracking server (backend store on PostgreSQL, artifacts proxied into
`$KEEL_HOME/infra/mlflow-artifacts`) and waits for its `/health`, then `keel serve --workers N`
on the production profile pointed at it and waits for `/healthz`; Redis and PostgreSQL are the
machine's own. Each server leads its own process group (its workers are in it) and is recorded
in `$KEEL_HOME/infra/<name>.json` (see `keel.ops.supervisor`), so `status` and `down` work from any
later shell.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from keel.core.errors import BackendUnavailable
from keel.ops.infra_config import StackConfig, ensure_databases
from keel.ops.server_process import settings_env
from keel.ops.supervisor import (
    ProcessRecord,
    health,
    port_in_use,
    running,
    start_server,
    stop_server,
)

MLFLOW = "mlflow"
API = "api"
TOKEN_FILE = "api-token"
ALL_SCOPES = "predict+feedback+admin"
# Inherited values that would mix these servers up with the launching process's own.
NOT_INHERITED = ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR", "MLFLOW_TRACKING_URI")


@dataclass(frozen=True)
class ProcessStatus:
    """What `keel infra status` shows for one server."""

    name: str
    pid: int | None
    alive: bool
    url: str
    health: str
    log: Path


@dataclass(frozen=True)
class UpResult:
    already_up: bool
    started: list[str]
    created_databases: list[str]
    token_file: Path | None
    """Where the generated API token is, when the env file sets no `KEEL_API_TOKENS`."""
    waiting_for: str | None
    """Why the API was not started (Feast's definitions are not applied yet), else None."""


def mlflow_command(config: StackConfig) -> list[str]:
    """`mlflow server` proxying artifacts into the state directory; the backend store URI goes
    through the environment so its password never shows in `ps`."""
    bin_dir = Path(sys.executable).parent
    host, port = config.mlflow_host, config.mlflow_port
    return [
        *[str(bin_dir / "mlflow"), "server", "--serve-artifacts"],
        *["--artifacts-destination", str(config.artifacts_dir)],
        *["--host", host, "--port", str(port)],
        *["--workers", str(config.options.mlflow_workers)],
        # MLflow 3 answers only Host headers it allows; clients use the tracking URI's.
        *["--allowed-hosts", f"{host}:{port},{host},localhost:{port},localhost"],
    ]


def api_command(config: StackConfig) -> list[str]:
    return [
        *[sys.executable, "-m", "keel.cli.main", "serve"],
        *["--host", config.options.api_host, "--port", str(config.options.api_port)],
        *["--workers", str(config.settings.workers)],
    ]


def _base_env(config: StackConfig) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return {**env, **config.extra_env}


def mlflow_env(config: StackConfig) -> dict[str, str]:
    """MLflow starts uvicorn by name from PATH: the interpreter's bin directory goes first."""
    bin_dir = str(Path(sys.executable).parent)
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **_base_env(config)}
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    env["MLFLOW_BACKEND_STORE_URI"] = config.backend_store_uri
    return env


def api_env(config: StackConfig, tokens: str) -> dict[str, str]:
    """The stack's settings; MLflow's own default tracking URI is the server too, so any
    `mlflow-artifacts:/` download in the API resolves through it."""
    return {
        **_base_env(config),
        **settings_env(config.settings),
        "KEEL_API_TOKENS": tokens,
        "MLFLOW_TRACKING_URI": config.tracking_uri,
    }


def api_token(config: StackConfig) -> str | None:
    """The token `up` generated for the API (all scopes), if it generated one."""
    path = config.state_dir / TOKEN_FILE
    return path.read_text().strip() if path.is_file() else None


def _api_tokens(config: StackConfig) -> tuple[str, Path | None]:
    if config.settings.api_tokens:
        return config.settings.api_tokens, None
    path = config.state_dir / TOKEN_FILE
    token = api_token(config)
    if token is None:
        token = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(token + "\n")
    return f"{token}={ALL_SCOPES}", path


def _records(config: StackConfig) -> dict[str, ProcessRecord]:
    found = {name: ProcessRecord.load(config.state_dir, name) for name in (MLFLOW, API)}
    return {name: record for name, record in found.items() if record is not None}


def _check_port(config: StackConfig, name: str, url: str) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    if port_in_use(host, int(port)):
        raise BackendUnavailable(
            f"port {port} for {name} is already in use on {host} (another server?); choose "
            f"another in {config.env_file} (its log would be {config.state_dir / name}.log)"
        )


def _features_applied(config: StackConfig) -> str | None:
    """None when Feast's registry holds the feature service the API serves, else why not."""
    from feast.errors import FeatureServiceNotFoundException

    from keel.feast_plumbing.feature_store import open_store

    store = open_store(config.settings)
    try:
        store.get_feature_service(config.settings.feature_service)
    except FeatureServiceNotFoundException:
        return (
            f"feature service {config.settings.feature_service!r} is not in Feast's registry of "
            f"project {config.settings.project!r}: run `keel features apply` and `keel features "
            f"materialize` with {config.env_file}, then `keel infra up` again to start the API"
        )
    return None


def up(config: StackConfig) -> UpResult:
    """Create the databases if missing and start whichever server is not running."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    alive = {name for name, r in _records(config).items() if running(r) is not None}
    if alive == {MLFLOW, API}:
        return UpResult(True, [], [], _api_tokens(config)[1], None)
    for name, record in _records(config).items():
        if name not in alive:  # it died: clear its stragglers before starting it again
            stop_server(record, config.options.stop_timeout)
            record.forget(config.state_dir)
    mlflow_url = f"http://{config.mlflow_host}:{config.mlflow_port}"
    for name, url in ((MLFLOW, mlflow_url), (API, config.api_url)):
        if name not in alive:
            _check_port(config, name, url)
    created = ensure_databases(config.settings)
    timeouts = {
        "start_timeout": config.options.start_timeout,
        "stop_timeout": config.options.stop_timeout,
    }
    started = []
    if MLFLOW not in alive:
        config.artifacts_dir.mkdir(parents=True, exist_ok=True)
        command, env = mlflow_command(config), mlflow_env(config)
        start_server(
            config.state_dir,
            MLFLOW,
            command,
            env,
            url=mlflow_url,
            health_path="/health",
            **timeouts,
        )
        started.append(MLFLOW)
    waiting_for = _features_applied(config)
    if waiting_for is not None:
        return UpResult(False, started, created, None, waiting_for)
    tokens, token_file = _api_tokens(config)
    command, env = api_command(config), api_env(config, tokens)
    start_server(
        config.state_dir, API, command, env, url=config.api_url, health_path="/healthz", **timeouts
    )
    started.append(API)
    return UpResult(False, started, created, token_file, None)


def down(config: StackConfig) -> list[str]:
    """Stop every recorded server (API first); the names of those that were running."""
    stopped = []
    records = _records(config)
    for name in (API, MLFLOW):
        if name in records:
            if stop_server(records[name], config.options.stop_timeout):
                stopped.append(name)
            records[name].forget(config.state_dir)
    return stopped


def status(config: StackConfig) -> list[ProcessStatus]:
    """Each server: pid, whether it runs, its URL and what its health endpoint answers."""
    records = _records(config)
    expected = {
        MLFLOW: (f"http://{config.mlflow_host}:{config.mlflow_port}", "/health"),
        API: (config.api_url, "/readyz"),
    }
    statuses = []
    for name, (url, path) in expected.items():
        record = records.get(name)
        alive = record is not None and running(record) is not None
        if alive:
            code, body = health(url + path)
            answer = f"{code} {body}" if code is not None else body
        else:
            answer = "exited: see its log" if record else "not started"
        statuses.append(
            ProcessStatus(
                name=name,
                pid=record.pid if record else None,
                alive=alive,
                url=url,
                health=answer,
                log=config.state_dir / f"{name}.log",
            )
        )
    return statuses

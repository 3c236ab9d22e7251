"""`keel infra`: its env file, the commands it builds, and how it starts and stops a process
(with small real processes; the whole stack runs in tests/integration/test_production_journey.py).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.errors import BackendUnavailable
from keel.core.settings import Settings
from keel.ops.infra_config import (
    DEFAULT_ENV_FILE,
    StackConfig,
    load_stack_config,
    profile_databases,
)
from keel.ops.infra_stack import api_env, mlflow_command, mlflow_env, up
from keel.ops.server_process import free_port
from keel.ops.supervisor import ProcessRecord, running, start_server, stop_server
from registry.database import registry_database_url

runner = CliRunner()
LIMITS = {"start_timeout": 20.0, "stop_timeout": 5.0}

WriteEnv = Callable[..., Path]


@pytest.fixture
def write_env(tmp_path: Path) -> WriteEnv:
    """An env file: the shipped one with `changes` applied (a None value drops the line)."""

    def write(**changes: str | None) -> Path:
        lines = []
        seen = set()
        for line in DEFAULT_ENV_FILE.read_text().splitlines():
            key = line.partition("=")[0]
            if key in changes:
                seen.add(key)
                if changes[key] is not None:
                    lines.append(f"{key}={changes[key]}")
            else:
                lines.append(line)
        lines += [f"{k}={v}" for k, v in changes.items() if k not in seen and v is not None]
        path = tmp_path / "stack.env"
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


def test_shipped_env_file_runs_production_on_the_machines_servers_without_secrets() -> None:
    config = load_stack_config()
    settings = config.settings
    assert settings.profile == "production"
    assert settings.workers == 2
    assert settings.api_tokens == ""  # `up` generates one: no secret in git
    assert config.tracking_uri.startswith("http://127.0.0.1:")
    assert config.backend_store_uri.startswith("postgresql+psycopg://postgres@127.0.0.1:5432/")
    assert settings.redis_url.startswith("redis://127.0.0.1:6379")
    assert config.options.api_port != config.mlflow_port


@pytest.mark.parametrize("home", ["/tmp/somewhere/mine", None])
def test_sourcing_or_reading_the_shipped_env_file_keeps_the_users_keel_home(
    home: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`set -a; . infra/local-production.env` in a shell and `keel infra` (python-dotenv) agree:
    the user's KEEL_HOME if set, else .keel-production."""
    monkeypatch.chdir(tmp_path)
    if home is None:
        monkeypatch.delenv("KEEL_HOME", raising=False)
    else:
        monkeypatch.setenv("KEEL_HOME", home)
    shell = subprocess.run(
        ["bash", "-c", f'set -a; . "{DEFAULT_ENV_FILE}"; set +a; printf %s "$KEEL_HOME"'],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = home or ".keel-production"
    assert shell.stdout == expected
    assert load_stack_config().settings.home == (tmp_path / expected).resolve()


def test_the_profiles_databases_are_the_ones_apply_and_up_create() -> None:
    assert profile_databases(Settings(profile="local")) == []
    production = Settings(
        profile="production",
        postgres_url="postgresql://postgres@127.0.0.1:5432/keel",
        mlflow_tracking_uri="http://127.0.0.1:5000",
        mlflow_backend_store_uri="postgresql://postgres@127.0.0.1:5432/keel_mlflow",
    )
    assert profile_databases(production) == [
        "postgresql://postgres@127.0.0.1:5432/keel",
        "postgresql://postgres@127.0.0.1:5432/keel_mlflow",
    ]


def test_only_the_production_profile_is_accepted() -> None:
    result = runner.invoke(app, ["infra", "up", "--profile", "local"])
    assert result.exit_code == 2
    assert "--profile 'local'" in result.output and "production" in result.output


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"KEEL_PROFILE": "local"}, "KEEL_PROFILE"),
        ({"KEEL_WORKRES": "2"}, "KEEL_WORKRES"),
        ({"KEEL_INFRA_API_PORT": "eighty"}, "KEEL_INFRA_API_PORT"),
        ({"KEEL_MLFLOW_BACKEND_STORE_URI": None}, "KEEL_MLFLOW_BACKEND_STORE_URI"),
        ({"KEEL_MLFLOW_TRACKING_URI": "postgresql://db/mlflow"}, "KEEL_MLFLOW_TRACKING_URI"),
        ({"KEEL_INFRA_API_PORT": "5000"}, "KEEL_INFRA_API_PORT"),
    ],
)
def test_a_bad_env_file_exits_2_naming_the_file_and_the_variable(
    write_env: WriteEnv, changes: dict[str, str | None], named: str
) -> None:
    path = write_env(**changes)
    result = runner.invoke(app, ["infra", "status", "--env-file", str(path)])
    assert result.exit_code == 2, result.output
    assert named in result.output and str(path) in result.output


def test_a_missing_env_file_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["infra", "down", "--env-file", str(tmp_path / "nope.env")])
    assert result.exit_code == 2
    assert "nope.env not found" in result.output


def test_env_file_values_win_over_the_shell(
    write_env: WriteEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_POSTGRES_URL", "postgresql://elsewhere:5432/other")
    assert load_stack_config(write_env()).settings.postgres_url.endswith("/keel")


def test_mlflow_serves_artifacts_and_keeps_the_database_url_out_of_argv(
    write_env: WriteEnv, tmp_path: Path
) -> None:
    store = "postgresql://postgres:s3cret-pw@127.0.0.1:5432/keel_mlflow"
    config = load_stack_config(
        write_env(KEEL_HOME=str(tmp_path / "home"), KEEL_MLFLOW_BACKEND_STORE_URI=store)
    )
    command = mlflow_command(config)
    assert command[:3] == [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--serve-artifacts",
    ]
    assert command[command.index("--artifacts-destination") + 1] == str(config.artifacts_dir)
    assert "--default-artifact-root" not in command  # so runs get `mlflow-artifacts:/` URIs
    assert command[command.index("--port") + 1] == str(config.mlflow_port)
    assert not any("s3cret" in part for part in command)
    env = mlflow_env(config)
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg://postgres:s3cret-pw@")
    assert env["PATH"].startswith(str(Path(sys.executable).parent))
    api = api_env(config, "t" * 20 + "=predict")
    assert api["KEEL_PROFILE"] == "production"
    assert api["MLFLOW_TRACKING_URI"] == api["KEEL_MLFLOW_TRACKING_URI"] == config.tracking_uri


def test_alias_moves_use_the_tracking_servers_database_when_named(
    make_settings: Callable[..., Settings],
) -> None:
    server = {"mlflow_tracking_uri": "http://127.0.0.1:5000"}
    store = "postgresql://postgres@127.0.0.1:5432/keel_mlflow"
    settings = make_settings(**server, mlflow_backend_store_uri=store)
    assert registry_database_url(settings) == store
    with pytest.raises(BackendUnavailable, match="KEEL_MLFLOW_BACKEND_STORE_URI"):
        registry_database_url(make_settings(**server))
    with pytest.raises(BackendUnavailable, match="must name the tracking server's database"):
        registry_database_url(make_settings(**server, mlflow_backend_store_uri="http://x:1"))


@pytest.fixture
def config(write_env: WriteEnv, tmp_path: Path) -> StackConfig:
    """A stack on ports nobody uses and a PostgreSQL that does not answer (port 9)."""
    return load_stack_config(
        write_env(
            KEEL_HOME=str(tmp_path / "home"),
            KEEL_POSTGRES_URL="postgresql://postgres@127.0.0.1:9/keel",
            KEEL_MLFLOW_BACKEND_STORE_URI="postgresql://postgres@127.0.0.1:9/keel_mlflow",
            KEEL_MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}",
            KEEL_INFRA_API_PORT=str(free_port()),
            KEEL_INFRA_START_TIMEOUT="20",
            KEEL_INFRA_STOP_TIMEOUT="5",
        )
    )


def test_a_port_in_use_is_refused_before_anything_starts(config: StackConfig) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", config.mlflow_port))
        taken.listen()
        with pytest.raises(BackendUnavailable, match=f"port {config.mlflow_port} for mlflow"):
            up(config)
    assert not list(config.state_dir.glob("*.json"))


def test_a_child_that_dies_is_reported_with_its_log(config: StackConfig) -> None:
    command = [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"]
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendUnavailable) as raised:
        start_server(
            config.state_dir, "api", command, {}, url=url, health_path="/healthz", **LIMITS
        )
    message = str(raised.value)
    assert "exited with code 3" in message
    assert str(config.state_dir / "api.log") in message and "boom: bad config" in message
    assert not (config.state_dir / "api.json").exists()


def test_a_started_server_is_recorded_and_its_whole_group_stopped(config: StackConfig) -> None:
    port = free_port()
    # A parent that answers HTTP and has a child of its own, like MLflow's and Keel's servers.
    script = (
        "import subprocess, sys, http.server\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler)"
        ".serve_forever()\n"
    )
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", script]
    record = start_server(
        config.state_dir, "mlflow", command, {}, url=url, health_path="/", **LIMITS
    )
    assert (config.state_dir / "mlflow.json").is_file()
    leader = psutil.Process(record.pid)
    group = [leader, *leader.children()]
    try:
        assert len(group) == 2
        assert stop_server(record, timeout=5)
        assert not [p for p in group if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not stop_server(record, timeout=5)  # idempotent
    finally:
        for process in group:  # whatever a failed stop left behind
            with contextlib.suppress(psutil.Error):
                process.kill()


def test_profile_option_rejects_before_reading_the_env_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["infra", "status", "--profile", "spark", "--env-file", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "--profile 'spark'" in result.output


def test_a_recorded_server_stays_itself_when_the_boot_time_moves(config: StackConfig) -> None:
    """psutil's creation time moves with the clock (Linux recomputes the boot time on every
    read): a second of drift keeps the record's process; a minute means another process."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = psutil.Process(process.pid).create_time()
        record = ProcessRecord("mlflow", process.pid, started, "http://x", "/", "log")
        for drift in (0.0, 1.0, -1.0):
            assert running(replace(record, started=started + drift)) is not None, drift
        assert running(replace(record, started=started - 60)) is None
    finally:
        process.kill()
        process.wait()

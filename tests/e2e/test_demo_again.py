"""`keel demo --fresh` twice, with serve, score, monitor, synthesize and infra in between.

What a new user does in their first ten minutes: the demo, then the commands it suggests, then
the demo again. Every directory those commands write into the workspace is one `wipe` accepts,
so the second demo starts from nothing. The suggested commands are run as printed (only the
server's port is swapped for a free one, so the test never collides with a running server).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.demo_journey import SERVE_PORT
from keel.cli.main import app
from keel.core.settings import get_settings
from keel.core.workspace import ENTRIES, Workspace
from keel.ops.server_process import free_port

pytestmark = pytest.mark.e2e

SMALL_DEMO = ["demo", "--fresh", "--customers", "400", "--days", "120", "--seed", "3"]
DEMO_REQUESTS = 5  # run_demo's default: the prediction log of a fresh demo holds these only


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A workspace the child processes and the in-process CLI share; cwd is its parent."""
    home = tmp_path / "ws"
    monkeypatch.setenv("KEEL_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


def _demo(cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "keel.cli.main", *SMALL_DEMO]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    return done


def _next_steps(output: str) -> list[str]:
    """The commands under "Try next" (comment lines dropped)."""
    lines = output.split("Try next", 1)[1].splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


@contextmanager
def _serving(command: str, cwd: Path, url: str) -> Iterator[None]:
    """Run the printed `keel serve` line until it answers /readyz; stop its process group."""
    server = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, f"{command} exited with {server.returncode}"
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{command} never became ready"
            time.sleep(0.3)
        yield
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _infra_up_writes_its_directory(home: Path, tmp_path: Path) -> None:
    """`keel infra up` creates `$KEEL_HOME/infra` first; an occupied API port then stops it
    (exit 2) before any server or database is touched."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env_file = tmp_path / "stack.env"
        env_file.write_text(
            f"KEEL_PROFILE=production\nKEEL_HOME={home}\n"
            f"KEEL_MLFLOW_TRACKING_URI=http://127.0.0.1:{free_port()}\n"
            "KEEL_MLFLOW_BACKEND_STORE_URI=postgresql://postgres@127.0.0.1:5432/h1_never_created\n"
            f"KEEL_INFRA_API_PORT={port}\n"
        )
        result = CliRunner().invoke(app, ["infra", "up", "--env-file", str(env_file)])
    assert result.exit_code == 2, result.output
    assert f"port {port} for api is already in use" in result.output
    assert Workspace(home).infra_dir.is_dir()


def test_demo_runs_again_after_serve_score_monitor_synthesize_and_infra(
    home: Path, tmp_path: Path
) -> None:
    workspace = Workspace(home)
    first = _demo(tmp_path)
    serve, curl, _ui, monitor = _next_steps(first.stdout)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _serving(serve.replace(f"--port {SERVE_PORT}", f"--port {port}"), tmp_path, url):
        answer = json.loads(_shell(curl.replace(f":{SERVE_PORT}/", f":{port}/"), tmp_path).stdout)
    assert 0.0 <= answer["churn_probability"] <= 1.0
    assert answer["model"]["alias"] == "champion"

    _shell(monitor, tmp_path)  # predictions export + monitor report, as printed
    assert (workspace.reports_dir / "monitor.html").stat().st_size > 10_000

    runner = CliRunner()
    ids = workspace.reports_dir / "ids.parquet"
    first_id = answer["customer_id"]
    pd.DataFrame({"customer_id": [first_id, first_id + 1, first_id + 2]}).to_parquet(ids)
    scores = workspace.reports_dir / "scores.parquet"
    real, synthetic = (
        workspace.reports_dir / "real.parquet",
        workspace.reports_dir / "synth.parquet",
    )
    for args in (
        ["score", "--input", ids, "--as-of", "2030-01-01T00:00Z", "--output", scores],
        ["data", "real-table", "--out", real],
        ["data", "synthesize", "--from", real, "--rows", "50", "--out", synthetic],
    ):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(scores)) == 3
    _infra_up_writes_its_directory(home, tmp_path)

    written = {p.name for p in home.iterdir()}
    assert {"serving", "infra", "demo", "reports"} <= written <= set(ENTRIES)

    second = _demo(tmp_path)
    assert f"prediction log: {DEMO_REQUESTS} records" in second.stdout
    assert not (workspace.reports_dir / "scores.parquet").exists()
    assert not workspace.infra_dir.exists()

"""Run `keel serve` as a real child process and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from keel.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as `KEEL_*` variables, so a child process sees the same configuration."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"KEEL_{name.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    return env


@contextmanager
def server_process(
    settings: Settings,
    *,
    port: int | None = None,
    timeout: float = 90.0,
    log_file: Path | None = None,
    ready_path: str = "/healthz",
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start `keel serve` on a free port and wait until `ready_path` answers 200; yields its
    base URL and the process (for tests that kill it); stops it on exit."""
    port = port or free_port()
    env = {**os.environ, **settings_env(settings)}
    command = [
        *[sys.executable, "-m", "keel.cli.main", "serve"],
        *["--host", "127.0.0.1", "--port", str(port)],
    ]
    with tempfile.TemporaryDirectory() as tmp:
        log_path = log_file or Path(tmp) / "server.log"
        with open(log_path, "ab") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, url + ready_path, timeout, log_path)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def running_server(
    settings: Settings,
    *,
    port: int | None = None,
    timeout: float = 90.0,
    log_file: Path | None = None,
) -> Iterator[str]:
    """Start `keel serve` on a free port; yields its base URL; stops it on exit."""
    with server_process(settings, port=port, timeout=timeout, log_file=log_file) as (url, _):
        yield url


def _wait_ready(
    process: subprocess.Popen[bytes], ready_url: str, timeout: float, log_path: Path
) -> None:
    """Poll `ready_url`; if the process dies first, raise with the tail of its output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(
                f"keel serve exited with code {process.returncode} before answering:\n{tail}"
            )
        try:
            if httpx.get(ready_url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"keel serve did not answer {ready_url} within {timeout:.0f} s")

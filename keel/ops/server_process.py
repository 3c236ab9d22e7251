"""`keel serve` as a process: what it checks before it binds its port, and running it as a
real child process that is waited on until it answers."""

from __future__ import annotations

import errno
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

from keel.core.errors import BackendUnavailable, InvalidInput
from keel.core.settings import Settings


def check_can_bind(host: str, port: int) -> None:
    """`BackendUnavailable` if another process listens on `host:port`, `InvalidInput` if `host`
    is no address of this machine; checked as uvicorn binds (a socket in TIME_WAIT is free)."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise InvalidInput(f"--host {host!r}: not an address ({error.strerror})") from None
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise BackendUnavailable(
                    f"port {port} on {host} is already in use (another server?): stop it or "
                    "choose another with --port"
                ) from None
            raise InvalidInput(
                f"--host {host} --port {port}: cannot listen ({error.strerror})"
            ) from None


def check_servable(settings: Settings) -> None:
    """What the server needs before it starts, as one `KeelError` instead of a failed start-up:
    the feature service of each model applied in Feast's registry (whose database must answer):
    keel.yaml's models in its repo, else the churn example's in the workspace."""
    from keel.core.project import discover_project

    project = discover_project()
    if project is None:
        from keel.feast_plumbing.feature_store import open_store, require_feature_service

        require_feature_service(open_store(settings), settings.feature_service)
        return
    from feast.errors import FeatureServiceNotFoundException

    from keel.core.errors import UnknownFeatureService
    from keel.feast_plumbing.project_checks import open_store as open_project_store

    store = open_project_store(project)
    for model in project.models:
        try:
            store.get_feature_service(model.feature_service)
        except FeatureServiceNotFoundException:
            raise UnknownFeatureService(
                f"{project.path}: model {model.name!r}: feature_service "
                f"{model.feature_service!r} is not in the Feast registry of "
                f"{project.feature_repo}: run `feast apply` there"
            ) from None


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

"""Servers as detached child processes: start one in its own session and wait until it answers,
find it again later from a record on disk, stop its whole process group.

A record holds the pid and the process's creation time, so a pid later reused by another
process is never taken for the server (nor signalled).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from keel.core.errors import BackendUnavailable


@dataclass(frozen=True)
class ProcessRecord:
    """A started server, as written to `<state dir>/<name>.json`."""

    name: str
    pid: int
    started: float
    """The process's creation time (`psutil`), to tell it from a later process with its pid."""
    url: str
    health_path: str
    log: str

    def save(self, directory: Path) -> None:
        (directory / f"{self.name}.json").write_text(json.dumps(asdict(self)))

    def forget(self, directory: Path) -> None:
        (directory / f"{self.name}.json").unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path, name: str) -> ProcessRecord | None:
        path = directory / f"{name}.json"
        return cls(**json.loads(path.read_text())) if path.is_file() else None


START_TOLERANCE_S = 2.0
"""How far a process's creation time may move between two reads and still be the same process.
On Linux psutil adds the process's start (ticks since boot) to `/proc/stat`'s `btime`, which the
kernel recomputes on every read as wall clock minus uptime: a clock adjustment moves it, whole
seconds at a time (psutil issues #2526, #2541). With 0.05 s, a second `keel infra up` once took
its own running MLflow server for a dead one and refused the port it held. A later process
with a recycled pid starts at least the first one's lifetime later."""


def running(record: ProcessRecord) -> psutil.Process | None:
    """The recorded process if it still runs (same pid and creation time, not a zombie)."""
    try:
        process = psutil.Process(record.pid)
        if abs(process.create_time() - record.started) > START_TOLERANCE_S:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


def _group(record: ProcessRecord) -> list[psutil.Process]:
    """Live processes of the server's process group (its workers too, even if it died)."""
    if running(record) is None and psutil.pid_exists(record.pid):
        with contextlib.suppress(psutil.Error):
            if psutil.Process(record.pid).status() != psutil.STATUS_ZOMBIE:
                return []  # the pid (and so the group id) now belongs to another process
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if (
                os.getpgid(process.pid) == record.pid
                and process.create_time() >= record.started - START_TOLERANCE_S
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                members.append(process)
    return members


def _reap(pid: int) -> None:
    # When `up` ran in this process (tests), the server is our child: collect its exit status.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_server(record: ProcessRecord, timeout: float) -> bool:
    """SIGTERM to the server's process group, SIGKILL after `timeout`; True if any was running."""
    members = _group(record)
    if not members:
        _reap(record.pid)
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(record.pid)
            if not _group(record):
                return True
            time.sleep(0.2)
    raise BackendUnavailable(f"{record.name} (process group {record.pid}) survived SIGKILL")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        # As uvicorn binds: a socket in TIME_WAIT does not count, a listening one does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace") if path.is_file() else ""
    return "\n".join(text.splitlines()[-lines:])


def start_server(
    directory: Path,
    name: str,
    command: list[str],
    env: dict[str, str],
    *,
    url: str,
    health_path: str,
    start_timeout: float,
    stop_timeout: float,
) -> ProcessRecord:
    """Start `command` in its own session, logging to `<directory>/<name>.log`, recorded in
    `<directory>/<name>.json`; wait until `url + health_path` answers 200.

    A server that exits or stays silent is stopped and forgotten; the error names its log."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"{name}.log"
    with open(log, "ab") as out:
        out.write(f"--- {datetime.now(UTC).isoformat()} {shlex.join(command)}\n".encode())
        out.flush()
        process = subprocess.Popen(
            command,
            env=env,
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    record = ProcessRecord(
        name, process.pid, psutil.Process(process.pid).create_time(), url, health_path, str(log)
    )
    record.save(directory)
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            stop_server(record, stop_timeout)
            record.forget(directory)
            raise BackendUnavailable(
                f"{name} exited with code {code} before answering {url}{health_path}; its log "
                f"is {log}:\n{_tail(log)}"
            )
        if health(url + health_path)[0] == 200:
            return record
        time.sleep(0.3)
    stop_server(record, stop_timeout)
    record.forget(directory)
    raise BackendUnavailable(
        f"{name} did not answer {url}{health_path} within {start_timeout:.0f} s; "
        f"its log is {log}:\n{_tail(log)}"
    )


def health(url: str) -> tuple[int | None, str]:
    """The status code and a one-line summary (for `/readyz`: its status and failed checks)."""
    try:
        response = httpx.get(url, timeout=3.0)
    except httpx.HTTPError as error:
        return None, f"no answer ({type(error).__name__})"
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text.strip()[:200]
    if isinstance(body, dict) and isinstance(body.get("checks"), dict):
        failed = [f"{k}: {v}" for k, v in body["checks"].items() if v != "ok"]
        return response.status_code, "; ".join([str(body.get("status")), *failed])
    return response.status_code, str(body)[:200]

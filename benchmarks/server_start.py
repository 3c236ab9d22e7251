"""A server process for a benchmark: started, waited for, stopped."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def answers(response: httpx.Response) -> bool:
    """Ready once it answers anything but a server error."""
    return response.status_code < 500


@contextmanager
def started(
    command: list[str],
    env: dict[str, str],
    url: str,
    ready: Callable[[httpx.Response], bool] = answers,
    *,
    timeout_s: float = 180.0,
) -> Iterator[Path]:
    """`command` running until the block ends, once `ready` says so of a GET of `url`; yields
    the path of its log (kept for reading after a failure)."""
    log = tempfile.NamedTemporaryFile(prefix="bench-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start; see {log.name}")
            try:
                if ready(httpx.get(url, timeout=2)):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield Path(log.name)
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 20 s; reaped either way."""
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

"""How long `keel serve` takes from its start to the first 200 on `/readyz`.

    .venv/bin/python benchmarks/startup.py --home /tmp/keel-bench-home [--runs 3] [--first]

Starts `keel serve` `--runs` times on the workspace, polls `/readyz` every 20 ms and reports,
per run and as medians, the wall time to the first 200 and the CPU seconds the server process
had used by then (which depends less on what else the machine is doing), with the load average.
`--first` times the first start after `keel train`: each run starts without the serving model
cache (moved aside and put back afterwards), so the server downloads the champion's files and
takes its scorer from them (or compiles it) as it does for a version it has never served.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from server_start import stop

from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.ops.server_process import free_port, settings_env

POLL_S = 0.02


@dataclass(frozen=True)
class Startup:
    wall_s: float
    cpu_s: float
    load: float


def time_to_ready(settings: Settings, *, timeout: float = 120.0) -> Startup:
    """One `keel serve` start on `settings`' workspace, stopped once `/readyz` answers 200."""
    port = free_port()
    env = {**os.environ, **settings_env(settings)}
    command = [sys.executable, "-m", "keel.cli.main", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/readyz"
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            watched = psutil.Process(process.pid)
            while True:
                if process.poll() is not None or time.perf_counter() - started > timeout:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"keel serve did not become ready:\n{tail}")
                try:
                    if httpx.get(url, timeout=1.0).status_code == 200:
                        wall = time.perf_counter() - started
                        times = watched.cpu_times()
                        return Startup(wall, times.user + times.system, load)
                except httpx.HTTPError:
                    pass
                time.sleep(POLL_S)
        finally:
            stop(process)


@contextlib.contextmanager
def without_model_cache(settings: Settings) -> Iterator[None]:
    """The workspace as right after training a version: no serving model cache, restored after."""
    cache = Workspace.from_settings(settings).model_cache_dir
    aside = cache.with_name(f".{cache.name}-aside")
    shutil.rmtree(aside, ignore_errors=True)
    if cache.exists():
        cache.rename(aside)
    try:
        yield
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if aside.exists():
            aside.rename(cache)


def measure(settings: Settings, runs: int, *, first: bool = False) -> list[Startup]:
    """`runs` starts; `first`: each without the serving model cache (`without_model_cache`)."""
    results = []
    for _ in range(runs):
        with without_model_cache(settings) if first else contextlib.nullcontext():
            results.append(time_to_ready(settings))
    return results


def summary(results: list[Startup]) -> str:
    walls = ", ".join(f"{r.wall_s:.2f}" for r in results)
    loads = ", ".join(f"{r.load:.1f}" for r in results)
    return (
        f"start -> /readyz 200: median {statistics.median(r.wall_s for r in results):.2f} s "
        f"wall ({walls}), {statistics.median(r.cpu_s for r in results):.2f} s CPU; "
        f"load average {loads}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/keel-bench-home"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--first", action="store_true", help="time the first start after training (no cache)"
    )
    args = parser.parse_args()
    print(summary(measure(Settings(home=args.home), args.runs, first=args.first)))


if __name__ == "__main__":
    main()

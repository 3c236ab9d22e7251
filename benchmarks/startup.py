"""How long `keel serve` takes from its start to the first 200 on `/readyz`.

    .venv/bin/python benchmarks/startup.py --home /tmp/keel-bench-home [--runs 3]

Starts `keel serve` `--runs` times on the workspace, polls `/readyz` every 20 ms and reports,
per run and as medians, the wall time to the first 200 and the CPU seconds the server process
had used by then (which depends less on what else the machine is doing), with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from keel.server_process import free_port, settings_env
from keel.settings import Settings

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
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def measure(settings: Settings, runs: int) -> list[Startup]:
    return [time_to_ready(settings) for _ in range(runs)]


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
    args = parser.parse_args()
    print(summary(measure(Settings(home=args.home), args.runs)))


if __name__ == "__main__":
    main()

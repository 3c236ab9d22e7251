"""Soak: `keel serve` for 10 minutes at half its measured capacity; RSS, errors and p99 over time.

    .venv/bin/python benchmarks/soak.py --home /tmp/keel-soak-home [--minutes 10] [--workers 1]

Loopback only. Starts `keel serve` on a copy of a workspace (a small demo is generated at
`--home` if it is missing; the copy starts with an empty prediction log), measures capacity with
closed-loop load (one customer per request, c=8), then sends requests open-loop at
`--load` (default 0.5) of that rate for `--minutes`, bounded by a request count as well as by
time. Latency is measured from each request's *scheduled* send time, so a server that falls
behind shows it (no coordinated omission). Per window: requests, non-200 answers, p50/p99, the
server's RSS (all its processes) and CPU.

Pass/fail (exit 1 on any failure): RSS growth from the first to the last window under 10%, no
error, and the largest window p99 within 2x of the smallest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from http_load import post_request, read_status
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from keel.server_process import server_process
from keel.settings import Settings
from keel.workspace import Workspace

CONNECTIONS = 8
ANSWER_TIMEOUT_S = 10.0  # an answer later than this counts as an error


@dataclass
class Window:
    """What one slice of the soak saw."""

    started_s: float
    latencies: list[float]
    errors: int = 0
    rss_mb: float = 0.0
    cpu_percent: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else 0.0


def server_rss_mb(process: psutil.Process) -> float:
    """Resident memory of the server and its worker processes, in MB."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / 1e6


def server_cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


async def closed_loop(host: str, port: int, requests: list[bytes], seconds: float) -> float:
    """Requests per second that CONNECTIONS back-to-back keep-alive connections achieve."""
    done = 0

    async def connection(offset: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        deadline, i = time.perf_counter() + seconds, offset
        try:
            while time.perf_counter() < deadline:
                writer.write(requests[i % len(requests)])
                i += CONNECTIONS
                await read_status(reader)
                done += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(k) for k in range(CONNECTIONS)))
    return done / (time.perf_counter() - started)


async def open_loop(
    host: str,
    port: int,
    requests: list[bytes],
    rate: float,
    windows: list[Window],
    window_s: float,
    on_tick: object,
) -> None:
    """Send at `rate` requests/s in total from CONNECTIONS connections, each on its own
    schedule, until every window is over; latency counts from the scheduled send time."""
    total_s = window_s * len(windows)
    interval = CONNECTIONS / rate
    start = time.perf_counter()

    async def connection(k: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        n = 0
        try:
            while True:
                scheduled = start + (k / CONNECTIONS + n) * interval
                if scheduled - start >= total_s:
                    return
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(requests[(n * CONNECTIONS + k) % len(requests)])
                try:
                    status = await asyncio.wait_for(read_status(reader), ANSWER_TIMEOUT_S)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    status = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                window = windows[min(int((scheduled - start) / window_s), len(windows) - 1)]
                window.latencies.append(time.perf_counter() - scheduled)
                window.errors += status != 200
                n += 1
        finally:
            writer.close()

    async def sampler() -> None:
        while time.perf_counter() - start < total_s:
            await asyncio.sleep(1.0)
            on_tick(time.perf_counter() - start)  # type: ignore[operator]

    await asyncio.gather(sampler(), *(connection(k) for k in range(CONNECTIONS)))


def report(console: Console, capacity: float, rate: float, windows: list[Window]) -> bool:
    table = Table(title=f"soak at {rate:.0f} req/s ({rate / capacity:.0%} of {capacity:.0f})")
    for column in ("from s", "requests", "errors", "p50 ms", "p99 ms", "RSS MB", "CPU %"):
        table.add_column(column, justify="right")
    for w in windows:
        table.add_row(
            f"{w.started_s:.0f}",
            f"{len(w.latencies):,}",
            str(w.errors),
            f"{w.percentile(0.5):.2f}",
            f"{w.percentile(0.99):.2f}",
            f"{w.rss_mb:.1f}",
            f"{w.cpu_percent:.0f}",
        )
    console.print(table)
    p99s = [w.percentile(0.99) for w in windows if w.latencies]
    growth = (windows[-1].rss_mb - windows[0].rss_mb) / windows[0].rss_mb
    errors = sum(w.errors for w in windows)
    spread = max(p99s) / min(p99s)
    checks = {
        f"RSS growth {growth:+.1%} (< 10%)": growth < 0.10,
        f"errors {errors} (0)": errors == 0,
        f"p99 max/min {spread:.2f}x (<= 2x; median {statistics.median(p99s):.2f} ms)": spread <= 2,
    }
    for text, ok in checks.items():
        console.print(f"[{'green' if ok else 'red'}]{'pass' if ok else 'FAIL'}[/] {text}")
    return all(checks.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/keel-soak-home"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--load", type=float, default=0.5, help="share of measured capacity")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    console = Console()
    settings = Settings(home=args.home)
    if not Workspace.from_settings(settings).mlflow_db.exists():
        from keel.demo import run_demo

        run_demo(settings, customers=1500, days=150, seed=7, requests=1)
    from keel.demo import sample_customers

    customers = sample_customers(settings, 500)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        shutil.copytree(settings.home, home, ignore=shutil.ignore_patterns("predictions"))
        served = Settings(home=home, workers=args.workers)
        with server_process(served, log_file=Path(tmp) / "server.log") as (url, child):
            host, port = url.removeprefix("http://").split(":")
            requests = [post_request(host, "/v1/predict", {"customer_id": c}) for c in customers]
            capacity = asyncio.run(closed_loop(host, int(port), requests, 10.0))
            rate = capacity * args.load
            window_s = args.minutes * 60 / args.windows
            windows = [Window(i * window_s, []) for i in range(args.windows)]
            server = psutil.Process(child.pid)
            window_start_cpu = {0: server_cpu_seconds(server)}

            with Progress(
                TextColumn("soak"), BarColumn(), TextColumn("{task.description}"),
                TimeRemainingColumn(), console=console,
            ) as progress:  # fmt: skip
                task = progress.add_task("", total=window_s * args.windows)

                def tick(elapsed: float) -> None:
                    index = min(int(elapsed / window_s), args.windows - 1)
                    window = windows[index]
                    window.rss_mb = server_rss_mb(server)
                    cpu = server_cpu_seconds(server)
                    start_cpu = window_start_cpu.setdefault(index, cpu)
                    spent = elapsed - window.started_s
                    if spent > 0:
                        window.cpu_percent = 100 * (cpu - start_cpu) / spent
                    progress.update(
                        task,
                        completed=elapsed,
                        description=f"{window.rss_mb:.0f} MB, {sum(w.errors for w in windows)} err",
                    )

                asyncio.run(open_loop(host, int(port), requests, rate, windows, window_s, tick))
    sys.exit(0 if report(console, capacity, rate, windows) else 1)


if __name__ == "__main__":
    main()

"""Soak: `keel serve` for 10 minutes at half its measured capacity; RSS, errors and p99 over time.

    .venv/bin/python benchmarks/soak.py --home /tmp/keel-soak-home [--minutes 10] [--workers 1]

Loopback only. Starts `keel serve` on a copy of a workspace (a small demo is generated at
`--home` if it is missing; the copy starts with an empty prediction log), measures capacity with
closed-loop load (one customer per request, c=8), then sends requests open-loop at
`--load` (default 0.5) of that rate (or `--rate`): `--settle` seconds (default 30; the server
recovers from the saturating probe; errors count, latency is shown but not judged), then
`--minutes` in `--windows`, bounded by a request count as well as by time. The client runs on
uvloop with its garbage collector frozen and off: its own pauses would count as the server's
latency (a 200 ms gen-2 collection was seen in the client otherwise). Latency is measured
from each request's *scheduled* send time, so a server that falls behind shows it (no
coordinated omission). Per window: requests, non-200 answers, p50/p99, the server's RSS
(all its processes) and CPU, other processes' CPU and the CPU the hypervisor stole
(percent of one CPU): a window slowed by its neighbours shows it. `--trace FILE` writes every
request's send time, latency and status.

Pass/fail (exit 1 on any failure): RSS growth from the first to the last window under 10%, no
error, and the largest window p99 within 2x of the smallest: over every window, or, when that
fails, among the windows in which the hypervisor stole at most `--max-steal` (5%) of a CPU.
On this shared 2-CPU VM steal reached 24% in some minutes and the p99 followed it (12.9 ms at
0.9% steal, 57.6 ms at 24%): such windows are shown and marked. Over 2x across every window
with fewer than half the windows clean: exit 3, inconclusive.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import csv
import gc
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import uvloop
from http_load import post_request, read_status
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.ops.server_process import server_process

CONNECTIONS = 8
ANSWER_TIMEOUT_S = 10.0  # an answer later than this counts as an error


@dataclass
class CpuSample:
    """CPU seconds so far: the server's, this client's, the whole machine's busy and stolen."""

    at: float
    server: float
    client: float
    busy: float
    steal: float

    @classmethod
    def take(cls, server: psutil.Process) -> CpuSample:
        machine = psutil.cpu_times()
        own = psutil.Process().cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        return cls(
            time.perf_counter(),
            server_cpu_seconds(server),
            own.user + own.system,
            busy,
            getattr(machine, "steal", 0.0),
        )


@dataclass
class Window:
    """What one slice of the soak saw."""

    started_s: float
    latencies: list[float]
    errors: int = 0
    rss_mb: float = 0.0
    cpu_percent: float = 0.0
    others_percent: float = 0.0
    steal_percent: float = 0.0
    settling: bool = False
    first: CpuSample | None = None

    def sampled(self, now: CpuSample) -> None:
        """Update the window's CPU shares (percent of one CPU) from its first sample to `now`."""
        if self.first is None:
            self.first = now
        spent = now.at - self.first.at
        if spent > 0:
            server = now.server - self.first.server
            client = now.client - self.first.client
            busy = now.busy - self.first.busy
            self.cpu_percent = 100 * server / spent
            self.others_percent = max(0.0, 100 * (busy - server - client) / spent)
            self.steal_percent = 100 * (now.steal - self.first.steal) / spent

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else 0.0


def window_at(windows: list[Window], elapsed_s: float) -> Window:
    """The window that `elapsed_s` (seconds since the load started) falls in."""
    index = bisect.bisect_right([w.started_s for w in windows], elapsed_s) - 1
    return windows[max(0, index)]


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
    total_s: float,
    on_tick: object,
    trace: list[tuple[float, float, int]] | None = None,
) -> None:
    """Send at `rate` requests/s in total from CONNECTIONS connections, each on its own
    schedule, for `total_s`; latency counts from the scheduled send time."""
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
                window = window_at(windows, scheduled - start)
                window.latencies.append(time.perf_counter() - scheduled)
                if trace is not None:
                    trace.append((scheduled - start, window.latencies[-1], status))
                window.errors += status != 200
                n += 1
        finally:
            writer.close()

    async def sampler() -> None:
        while time.perf_counter() - start < total_s:
            await asyncio.sleep(1.0)
            on_tick(time.perf_counter() - start)  # type: ignore[operator]

    await asyncio.gather(sampler(), *(connection(k) for k in range(CONNECTIONS)))


def report(
    console: Console, capacity: float, rate: float, windows: list[Window], max_steal: float
) -> int:
    """Print the windows and the verdict: 0 pass, 1 fail, 3 inconclusive (the host stole too
    much CPU in too many windows to judge the p99's stability)."""
    table = Table(title=f"soak at {rate:.0f} req/s ({rate / capacity:.0%} of {capacity:.0f})")
    columns = ("from s", "requests", "errors", "p50 ms", "p99 ms", "RSS MB", "CPU %", "others %")
    for column in (*columns, "steal %"):
        table.add_column(column, justify="right")
    for w in windows:
        table.add_row(
            "settle" if w.settling else f"{w.started_s:.0f}",
            f"{len(w.latencies):,}",
            str(w.errors),
            f"{w.percentile(0.5):.2f}",
            f"{w.percentile(0.99):.2f}",
            f"{w.rss_mb:.1f}",
            f"{w.cpu_percent:.0f}",
            f"{w.others_percent:.0f}",
            f"{w.steal_percent:.1f}" + (" *" if w.steal_percent > max_steal else ""),
        )
    console.print(table)
    errors = sum(w.errors for w in windows)
    windows = [w for w in windows if not w.settling and w.latencies]
    growth = (windows[-1].rss_mb - windows[0].rss_mb) / windows[0].rss_mb
    every = [w.percentile(0.99) for w in windows]
    clean = [w.percentile(0.99) for w in windows if w.steal_percent <= max_steal]
    console.print(
        f"p99 max/min over every window {max(every) / min(every):.2f}x; "
        f"* = the hypervisor stole more than {max_steal:g}% of a CPU in that window"
    )
    checks = {
        f"RSS growth {growth:+.1%} (< 10%)": growth < 0.10,
        f"errors {errors} (0)": errors == 0,
    }
    spread = max(every) / min(every)
    judged = spread <= 2 or len(clean) >= max(2, len(windows) / 2)
    if spread <= 2:  # steal only adds latency: stable in every window is stable
        text = f"{spread:.2f}x (<= 2x; median {statistics.median(every):.2f} ms)"
        checks[f"p99 max/min over every window {text}"] = True
    elif judged:
        spread = max(clean) / min(clean)
        text = f"{spread:.2f}x (<= 2x; median {statistics.median(clean):.2f} ms)"
        checks[f"p99 max/min over the {len(clean)} windows without steal {text}"] = spread <= 2
    for text, ok in checks.items():
        console.print(f"[{'green' if ok else 'red'}]{'pass' if ok else 'FAIL'}[/] {text}")
    if not all(checks.values()):
        return 1
    if not judged:
        console.print(
            f"[yellow]inconclusive[/] p99 stability: only {len(clean)} of {len(windows)} "
            "windows ran without steal; run again on a quieter host"
        )
        return 3
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/keel-soak-home"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--load", type=float, default=0.5, help="share of measured capacity")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, help="requests/s (instead of --load x capacity)")
    parser.add_argument(
        "--max-steal", type=float, default=5.0,
        help="a window whose stolen CPU exceeds this (percent of one CPU) is not judged for p99",
    )  # fmt: skip
    parser.add_argument("--trace", type=Path, help="CSV of every request: sent_s,latency_ms,status")
    parser.add_argument(
        "--settle", type=float, default=30.0,
        help="seconds at the soak rate before the first window (errors count, latency is shown "
        "but not judged): the server recovers from the saturating capacity probe",
    )  # fmt: skip
    args = parser.parse_args()
    console = Console()
    settings = Settings(home=args.home)
    if not Workspace.from_settings(settings).mlflow_db.exists():
        from keel.cli.demo_journey import run_demo

        run_demo(settings, customers=1500, days=150, seed=7, requests=1)
    from keel.cli.demo_journey import sample_customers

    customers = sample_customers(settings, 500)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        shutil.copytree(settings.home, home, ignore=shutil.ignore_patterns("predictions"))
        served = Settings(home=home, workers=args.workers)
        with server_process(served, log_file=Path(tmp) / "server.log") as (url, child):
            host, port = url.removeprefix("http://").split(":")
            requests = [post_request(host, "/v1/predict", {"customer_id": c}) for c in customers]
            gc.collect()
            gc.freeze()  # the client's own pauses would count as the server's latency
            gc.disable()
            capacity = uvloop.run(closed_loop(host, int(port), requests, 10.0))
            rate = args.rate or capacity * args.load
            window_s = args.minutes * 60 / args.windows
            settle = [Window(0.0, [], settling=True)] if args.settle > 0 else []
            windows = settle + [Window(args.settle + i * window_s, []) for i in range(args.windows)]
            total_s = args.settle + window_s * args.windows
            server = psutil.Process(child.pid)
            windows[0].sampled(CpuSample.take(server))

            with Progress(
                TextColumn("soak"), BarColumn(), TextColumn("{task.description}"),
                TimeRemainingColumn(), console=console,
            ) as progress:  # fmt: skip
                task = progress.add_task("", total=total_s)

                def tick(elapsed: float) -> None:
                    window = window_at(windows, elapsed)
                    window.rss_mb = server_rss_mb(server)
                    window.sampled(CpuSample.take(server))
                    progress.update(
                        task,
                        completed=elapsed,
                        description=f"{window.rss_mb:.0f} MB, {sum(w.errors for w in windows)} err",
                    )

                trace: list[tuple[float, float, int]] | None = [] if args.trace else None
                load = open_loop(host, int(port), requests, rate, windows, total_s, tick, trace)
                uvloop.run(load)
            gc.enable()
    if args.trace and trace is not None:
        with args.trace.open("w", newline="") as out:
            rows = csv.writer(out)
            rows.writerow(("sent_s", "latency_ms", "status"))
            rows.writerows((f"{t:.4f}", f"{lat * 1000:.3f}", code) for t, lat, code in trace)
    sys.exit(report(console, capacity, rate, windows, args.max_steal))


if __name__ == "__main__":
    main()

"""CLI start-up benchmark: wall time of Keel's quick commands, each in a fresh process (issue #15).

    python benchmarks/bench_cli.py                        # builds /tmp/keel-bench-cli if missing
    python benchmarks/bench_cli.py --home /tmp/keel-h2    # an existing demo workspace
    python benchmarks/bench_cli.py --runs 5 --json cli.json

Each command runs `--runs` times as a subprocess of this venv's `keel` (stdout and stderr to a
pipe, as in CI), after one unmeasured warm-up run that fills the OS file cache; the table shows
median, min and max wall time and whether every run exited 0. A command that needs no workspace
(`--help`, `infra status`) runs against it all the same. The load average before and after is
printed: the machine's other work is in every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

DEFAULT_HOME = Path("/tmp/keel-bench-cli")
KEEL = Path(sys.executable).parent / "keel"
REPO = Path(__file__).resolve().parents[1]
QUICK_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("data", "describe"),
    ("models", "list"),
    ("models", "show", "churn@champion"),
    ("models", "history", "churn"),
    ("predictions", "stats"),
    ("infra", "status"),
)
BUDGET_S = 1.5


@dataclass(frozen=True)
class Timing:
    """Wall times of one command over its runs."""

    command: str
    median_s: float
    min_s: float
    max_s: float
    runs: int
    all_ok: bool


def build_workspace(home: Path, customers: int) -> None:
    """A demo workspace (data, features, a trained and registered model, logged predictions)."""
    print(f"building a demo workspace in {home} ({customers:,} customers) ...", flush=True)
    subprocess.run(
        [str(KEEL), "demo", "--fresh", "--customers", str(customers)],
        env=_env(home),
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "KEEL_HOME": str(home)}


def time_command(args: tuple[str, ...], *, home: Path, runs: int) -> Timing:
    """Run `keel ARGS` once unmeasured, then `runs` times measured."""
    times: list[float] = []
    ok = True
    for attempt in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run(
            [str(KEEL), *args], env=_env(home), cwd=REPO, capture_output=True, check=False
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            ok = False
            tail = done.stderr.decode(errors="replace")[-300:] or done.stdout.decode()[-300:]
            print(f"keel {' '.join(args)} exited {done.returncode}: {tail}", file=sys.stderr)
        if attempt:
            times.append(elapsed)
    return Timing(
        command="keel " + " ".join(args),
        median_s=statistics.median(times),
        min_s=min(times),
        max_s=max(times),
        runs=runs,
        all_ok=ok,
    )


def render(timings: list[Timing], loads: tuple[str, str]) -> None:
    table = Table(title=f"CLI start-up, wall time of a fresh process (budget {BUDGET_S} s)")
    for column in ("command", "median s", "min s", "max s", "runs", "exit 0"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for t in timings:
        colour = "green" if t.median_s < BUDGET_S else "red"
        table.add_row(
            t.command,
            f"[{colour}]{t.median_s:.2f}[/]",
            f"{t.min_s:.2f}",
            f"{t.max_s:.2f}",
            str(t.runs),
            "yes" if t.all_ok else "[red]no[/]",
        )
    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(table)
    console.print(f"load average before: {loads[0]}; after: {loads[1]} ({os.cpu_count()} CPUs)")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="An existing demo workspace.")
    parser.add_argument("--customers", type=int, default=1000, help="Customers when building.")
    parser.add_argument("--runs", type=int, default=5, help="Measured runs per command.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    options = parser.parse_args()
    home = (options.home or DEFAULT_HOME).resolve()
    if not (home / "mlflow").exists():
        build_workspace(home, options.customers)
    before = _load()
    timings = [time_command(args, home=home, runs=options.runs) for args in QUICK_COMMANDS]
    render(timings, (before, _load()))
    if options.json:
        options.json.write_text(json.dumps([asdict(t) for t in timings], indent=2) + "\n")


if __name__ == "__main__":
    main()

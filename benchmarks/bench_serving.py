"""Keel's one hop beside Feast's and MLflow's own servers, same data, model and load generator.

    .venv/bin/python benchmarks/bench_serving.py --home /tmp/bench-home [--seconds 5]

Starts `feast serve` (features only), `mlflow models serve` (model only, features sent in the
body) and `keel serve` (features + model + durable log), each with `--workers` processes, on one
workspace (created with a small demo if missing). Drives each with the same asyncio HTTP/1.1
keep-alive load generator: one customer at c=1 and c=8, and 100-customer batches at c=8. Prints
requests/s, p50, p99 and Keel's ratio to each anchor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from http_load import post_request, read_status

from keel.backends import mlflow_tracking_uri
from keel.server_process import free_port, settings_env
from keel.settings import Settings
from keel.workspace import Workspace


@dataclass(frozen=True)
class Result:
    server: str
    scenario: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


async def _one_connection(
    host: str, port: int, requests: list[bytes], deadline: float, latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors, i = 0, 0
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += 1
            try:
                status = await read_status(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                errors += 1  # the server closed the connection: count it, reconnect
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(time.perf_counter() - started)
            errors += status != 200
    finally:
        writer.close()
    return errors


def load(url: str, path: str, bodies: list[dict[str, object]], c: int, seconds: float) -> Result:
    """`c` keep-alive connections posting `bodies` in turn for `seconds`."""
    host, port = url.removeprefix("http://").split(":")
    requests = [post_request(host, path, body) for body in bodies]

    async def run() -> tuple[list[float], int]:
        latencies: list[float] = []
        warm = time.perf_counter() + 0.5
        await asyncio.gather(
            *(_one_connection(host, int(port), requests, warm, []) for _ in range(c))
        )
        deadline = time.perf_counter() + seconds
        errors = await asyncio.gather(
            *(_one_connection(host, int(port), requests, deadline, latencies) for _ in range(c))
        )
        return latencies, sum(errors)

    latencies, errors = asyncio.run(run())
    latencies.sort()
    n = len(latencies)
    return Result(
        url,
        "",
        n,
        errors,
        n / seconds,
        latencies[n // 2] * 1000,
        latencies[min(n - 1, int(n * 0.99))] * 1000,
    )


@contextmanager
def started(command: list[str], env: dict[str, str], url: str, probe: str) -> Iterator[None]:
    log = tempfile.NamedTemporaryFile(prefix="bench-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start; see {log.name}")
            try:
                if httpx.get(url + probe, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def feast_yaml(settings: Settings, directory: Path) -> Path:
    """A feature_store.yaml for `feast serve` on the workspace (absolute paths)."""
    from keel.feature_store import repo_config

    config = repo_config(settings)
    feast_dir = Workspace.from_settings(settings).feast_dir
    text = (
        f"project: {config.project}\nprovider: local\n"
        f"registry: {{registry_type: file, path: {feast_dir / 'registry.db'}}}\n"
        f"online_store: {{type: sqlite, path: {feast_dir / 'online_store.db'}}}\n"
        "offline_store: {type: duckdb}\nentity_key_serialization_version: 3\n"
    )
    path = directory / "feature_store.yaml"
    path.write_text(text)
    return path


@dataclass(frozen=True)
class Plan:
    """One server to start and the bodies that ask it for one customer and for 100."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    path: str
    probe: str
    singles: list[dict[str, object]]
    batches: list[dict[str, object]]


def plans(settings: Settings, tmp: Path, workers: int) -> list[Plan]:
    """feast serve, mlflow models serve and keel serve on the same data and model."""
    from keel.demo import sample_customers
    from keel.feature_store import open_store
    from serving.online_features import FeastOnlineFeatures

    customers = sample_customers(settings, 200)
    batches = [customers[i : i + 100] for i in range(0, len(customers), 100)]
    as_of = int(time.time())
    rows = FeastOnlineFeatures(open_store(settings), settings.feature_service).get_many(
        customers, as_of_unix=as_of
    )
    known = [row for row in rows if row is not None]
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    feast_yaml(settings, tmp)
    keel_settings = Settings(home=tmp / "keel-home")
    shutil.copytree(settings.home, keel_settings.home, ignore=shutil.ignore_patterns("predictions"))

    def feast_body(ids: list[int]) -> dict[str, object]:
        entities = {"customer_id": ids, "as_of_unix": [as_of] * len(ids)}
        return {"feature_service": settings.feature_service, "entities": entities}

    feast_port, mlflow_port, keel_port = free_port(), free_port(), free_port()
    return [
        Plan(
            "feast serve",
            [
                *(f"{bin_dir}/feast", "-c", str(tmp), "serve", "-h", "127.0.0.1"),
                *("-p", str(feast_port), "-w", str(workers), "--no-access-log"),
                *("--max-requests", "100000000"),  # gunicorn's default recycles at 1,000
            ],
            env,
            feast_port,
            "/get-online-features",
            "/health",
            [feast_body([c]) for c in customers],
            [feast_body(b) for b in batches],
        ),
        Plan(
            "mlflow models serve",
            [
                *(f"{bin_dir}/mlflow", "models", "serve", "--env-manager", "local"),
                *("-m", f"models:/{settings.model_name}@champion"),
                *("-h", "127.0.0.1", "-p", str(mlflow_port), "-w", str(workers)),
            ],
            {**env, "MLFLOW_TRACKING_URI": mlflow_tracking_uri(settings)},
            mlflow_port,
            "/invocations",
            "/health",
            [{"dataframe_records": [row]} for row in known],
            [{"dataframe_records": known[i : i + 100]} for i in range(0, len(known), 100)],
        ),
        Plan(
            "keel serve",
            [
                *(sys.executable, "-m", "keel.cli.main", "serve"),
                *("--port", str(keel_port), "--workers", str(workers)),
            ],
            {**env, **settings_env(keel_settings)},
            keel_port,
            "/v1/predict",
            "/healthz",
            [{"customer_id": c} for c in customers],
            [{"customers": b} for b in batches],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/keel-bench-home"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    settings = Settings(home=args.home)
    if not Workspace.from_settings(settings).mlflow_db.exists():
        from keel.demo import run_demo

        run_demo(settings, customers=1500, days=150, seed=7, requests=1)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for plan in plans(settings, Path(tmp), args.workers):
            url = f"http://127.0.0.1:{plan.port}"
            with started(plan.command, plan.env, url, plan.probe):
                for scenario, bodies, c in (
                    ("1 customer, c=1", plan.singles, 1),
                    ("1 customer, c=8", plan.singles, 8),
                    ("100 customers, c=8", plan.batches, 8),
                ):
                    measured = load(url, plan.path, bodies, c, args.seconds)
                    results.append(replace(measured, server=plan.name, scenario=scenario))
    print_table(results)


def print_table(results: list[Result]) -> None:
    keel = {r.scenario: r for r in results if r.server == "keel serve"}
    header = f"{'server':<22}{'scenario':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    header += f"{'errors':>8}{'keel x':>8}"
    lines = [header, "-" * len(header)]
    for r in results:
        ratio = keel[r.scenario].rps / r.rps if r.rps and r.scenario in keel else float("nan")
        lines.append(
            f"{r.server:<22}{r.scenario:<22}{r.rps:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.errors:>8}{ratio:>8.1f}"
        )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

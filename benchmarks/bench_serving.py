"""Keel's one hop beside Feast's and MLflow's own servers, per model kind, same data and load.

    .venv/bin/python benchmarks/bench_serving.py --home /tmp/bench-home [--seconds 5] [--quick]

On a copy of the workspace (created with a small demo if missing), every model kind Keel trains
becomes `champion` in turn: the one the demo's gate chose, and each other kind (baseline, one
rule, logistic regression, gradient boosting) fitted on the champion's training frame and
registered as a version of the same run, so it has the same reference profile. For each kind:
`keel serve` (features + model + durable log record) and `mlflow models serve` of that version
(model only, features sent in the body); once, `feast serve` (features only). Each server has
`--workers` processes and is driven by the same asyncio HTTP/1.1 keep-alive load generator:
one customer per request at c=1 and c=8, batches of 10 at c=8 and of 100 at c=1 and c=8. Also
`keel serve`'s start to the first 200 on `/readyz` with the demo's champion (`startup.py`),
median of `--startup-runs`.
Prints requests/s, p50, p99, errors and Keel's requests/s over the row's (`keel x`, same kind
and scenario), with the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stderr
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from http_load import closed_loop
from server_start import started
from startup import Startup, summary, time_to_ready

from keel.core.backends import mlflow_tracking_uri
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.ops.server_process import free_port, settings_env

SETTLE_S = 5.0
"""Wait after `keel serve` is ready before measuring: it then imports, in the background, what
loading a new version's pipeline needs (`serving.model_files_cache.prepare_pipeline_loading`)."""
KINDS = ("baseline", "one_rule", "logistic_regression", "gradient_boosting")
PATH_KINDS = {
    "numpy-constant": "baseline",
    "numpy-one-rule": "one_rule",
    "numpy-linear": "logistic_regression",
    "treelite": "gradient_boosting",
}
SCENARIOS = (
    ("1 customer, c=1", 1, 1),
    ("1 customer, c=8", 1, 8),
    ("10 customers, c=8", 10, 8),
    ("100 customers, c=1", 100, 1),
    ("100 customers, c=8", 100, 8),
)
"""(name, customers per request, concurrent connections). At c=8 a request's p50 is mostly
the queue of the 7 others (about 8 / requests per second): c=1 gives a batch's own latency."""


@dataclass(frozen=True)
class Result:
    server: str
    kind: str
    scenario: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


def load(url: str, path: str, bodies: list[dict[str, object]], c: int, seconds: float) -> Result:
    """`c` keep-alive connections posting `bodies` in turn for `seconds` (after 0.5 s warm-up)."""
    run = closed_loop(url, path, bodies, c, seconds)
    return Result(
        url,
        "",
        "",
        run.requests,
        run.errors,
        run.rps,
        run.percentile_ms(0.5),
        run.percentile_ms(0.99),
    )


def feast_yaml(settings: Settings, directory: Path) -> Path:
    """A feature_store.yaml for `feast serve` on the workspace (absolute paths)."""
    from keel.feast_plumbing.feature_store import repo_config

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


def register_kinds(settings: Settings, kinds: list[str]) -> dict[str, str]:
    """Kind -> registered version: the champion's own kind, and every other kind in `kinds`
    fitted on the champion's training frame and registered from the champion's run. Leaves
    only the `champion` alias (a challenger would be loaded and served beside it)."""
    import mlflow
    import mlflow.sklearn
    from bench_scoring import champion_data

    from feature_repo.example import LABEL_COLUMN as LABEL
    from registry.client import mlflow_client
    from registry.models import resolve_version
    from serving.model_cache import ServedModel
    from serving.model_files_cache import ModelFilesCache
    from training.models import SKOPS_TRUSTED_TYPES, candidates

    client = mlflow_client(settings)
    name = settings.model_name
    champion = resolve_version(client, name, "champion")
    files = ModelFilesCache(Workspace.from_settings(settings).model_cache_dir, name)
    model = files.download(client, champion)
    own = PATH_KINDS.get(ServedModel.of(model).scoring, "champion")
    versions = {own: str(champion.version)}
    drop_alias(client, name, "challenger")
    wanted = [k for k in kinds if k not in versions]
    if not wanted:
        return versions
    frame, columns = champion_data(LABEL, settings)
    categorical = [c for c in columns if frame[c].dtype == object]
    fitted = dict(candidates(columns, categorical=categorical))
    mlflow.set_tracking_uri(mlflow_tracking_uri(settings))
    with mlflow.start_run(run_id=champion.run_id):
        for kind in wanted:
            pipeline = fitted[kind].fit(frame[columns], frame[LABEL])
            example = frame[columns].head(5)
            with redirect_stderr(io.StringIO()):
                mlflow.sklearn.log_model(
                    pipeline,
                    name=f"bench_{kind}",
                    input_example=example,
                    skops_trusted_types=SKOPS_TRUSTED_TYPES,
                )
                version = mlflow.register_model(f"runs:/{champion.run_id}/bench_{kind}", name)
            for key, value in (champion.tags or {}).items():
                client.set_model_version_tag(name, version.version, key, value)
            client.set_model_version_tag(name, version.version, "keel.bench_kind", kind)
            versions[kind] = str(version.version)
    return versions


def drop_alias(client: Any, name: str, alias: str) -> None:
    """Remove `alias` if it exists (the benchmark's copy of the workspace only)."""
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):
        client.delete_registered_model_alias(name, alias)


def make_champion(settings: Settings, version: str) -> None:
    from registry.client import mlflow_client

    mlflow_client(settings).set_registered_model_alias(settings.model_name, "champion", version)


@dataclass(frozen=True)
class Bodies:
    """Requests for each batch size of `SCENARIOS`, for Keel, Feast and MLflow."""

    keel: dict[int, list[dict[str, object]]]
    feast: dict[int, list[dict[str, object]]]
    mlflow: dict[int, list[dict[str, object]]]


def bodies(settings: Settings, feature_service: str) -> Bodies:
    from keel.cli.demo_journey import sample_customers
    from keel.feast_plumbing.feature_store import open_store
    from serving.online_features import FeastOnlineFeatures

    customers = sample_customers(settings, 400)
    as_of = int(time.time())
    rows = FeastOnlineFeatures(open_store(settings), feature_service).get_rows(
        [{"customer_id": c} for c in customers], as_of_unix=as_of
    )
    known = [row for row in rows if row is not None]
    sizes = sorted({size for _, size, _ in SCENARIOS})

    def chunks(items: list[Any], size: int) -> list[list[Any]]:
        return [items[i : i + size] for i in range(0, len(items) - size + 1, size)]

    def feast_body(ids: list[int]) -> dict[str, object]:
        entities = {"customer_id": ids, "as_of_unix": [as_of] * len(ids)}
        return {"feature_service": feature_service, "entities": entities}

    return Bodies(
        keel={
            n: [
                {"customer_id": chunk[0]} if n == 1 else {"customers": chunk}
                for chunk in chunks(customers, n)
            ]
            for n in sizes
        },
        feast={n: [feast_body(c) for c in chunks(customers, n)] for n in sizes},
        mlflow={n: [{"dataframe_records": c} for c in chunks(known, n)] for n in sizes},
    )


def median_of(runs: list[Result]) -> Result:
    """One result for several rounds of a cell: the median of each figure, every request and
    error counted."""
    return replace(
        runs[0],
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
    )


def drive(
    server: str,
    kind: str,
    url: str,
    path: str,
    by_size: dict[int, list[dict[str, object]]],
    seconds: float,
    rounds: int = 1,
) -> list[Result]:
    out = []
    for scenario, size, c in SCENARIOS:
        measured = median_of([load(url, path, by_size[size], c, seconds) for _ in range(rounds)])
        out.append(replace(measured, server=server, kind=kind, scenario=scenario))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/keel-bench-home"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs per cell; figures are their medians"
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated model kinds")
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--no-anchors", action="store_true", help="keel serve only")
    parser.add_argument(
        "--quick", action="store_true", help="2 s per cell, 1 start-up run, no anchors"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.startup_runs, args.no_anchors = 2.0, 1, True
    settings = Settings(home=args.home)
    if not Workspace.from_settings(settings).mlflow_db.exists():
        from keel.cli.demo_journey import run_demo

        run_demo(settings, customers=1500, days=150, seed=7, requests=1)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    results: list[Result] = []
    startups: dict[str, list[Startup]] = {}
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "keel-home"
        shutil.copytree(settings.home, home, ignore=shutil.ignore_patterns("predictions"))
        bench = Settings(home=home)
        versions = register_kinds(bench, [k for k in args.kinds.split(",") if k])
        print(f"model kind -> version: {versions}", flush=True)
        requests = bodies(bench, settings.feature_service)
        if not args.no_anchors:
            feast_yaml(bench, Path(tmp))
            port = free_port()
            command = [
                *(f"{bin_dir}/feast", "-c", tmp, "serve", "-h", "127.0.0.1", "-p", str(port)),
                *("-w", str(args.workers), "--no-access-log"),
                *("--max-requests", "100000000"),  # gunicorn's default recycles at 1,000
            ]
            url = f"http://127.0.0.1:{port}"
            with started(command, env, url + "/health"):
                results += drive(
                    "feast serve",
                    "(features only)",
                    url,
                    "/get-online-features",
                    requests.feast,
                    args.seconds,
                    args.rounds,
                )
        for kind, version in versions.items():
            make_champion(bench, version)
            if not startups:  # the demo's own champion: its start-up is the one that matters
                startups[kind] = [time_to_ready(bench) for _ in range(args.startup_runs)]
                print(f"{kind} v{version}: {summary(startups[kind])}", flush=True)
            port = free_port()
            command = [
                *(sys.executable, "-m", "keel.cli.main", "serve"),
                *("--port", str(port), "--workers", str(args.workers)),
            ]
            url = f"http://127.0.0.1:{port}"
            with started(command, {**env, **settings_env(bench)}, url + "/readyz"):
                time.sleep(SETTLE_S)  # the libraries it imports in the background once ready
                keel = drive(
                    "keel serve", kind, url, "/v1/predict", requests.keel, args.seconds, args.rounds
                )
            results += keel
            if args.no_anchors:
                continue
            port = free_port()
            command = [
                *(f"{bin_dir}/mlflow", "models", "serve", "--env-manager", "local"),
                *("-m", f"models:/{settings.model_name}/{version}"),
                *("-h", "127.0.0.1", "-p", str(port), "-w", str(args.workers)),
            ]
            mlflow_env = {**env, "MLFLOW_TRACKING_URI": mlflow_tracking_uri(bench)}
            url = f"http://127.0.0.1:{port}"
            with started(command, mlflow_env, url + "/health"):
                results += drive(
                    "mlflow models serve",
                    kind,
                    url,
                    "/invocations",
                    requests.mlflow,
                    args.seconds,
                    args.rounds,
                )
    print_table(results, load_at_start)
    for kind, runs in startups.items():
        print(f"keel serve start, {kind}: {summary(runs)}")


def print_table(results: list[Result], load_at_start: float) -> None:
    keel = {(r.kind, r.scenario): r for r in results if r.server == "keel serve"}
    kinds = [r.kind for r in results if r.server == "keel serve"]
    header = f"{'server':<21}{'model kind':<21}{'scenario':<20}{'req/s':>8}{'p50 ms':>9}"
    header += f"{'p99 ms':>9}{'errors':>7}{'keel x':>8}"
    lines = [f"load average {load_at_start:.2f} at the start", header, "-" * len(header)]
    for r in results:
        if r.server == "feast serve":  # features only: compared with every kind
            ratios = [keel[(k, r.scenario)].rps / r.rps for k in dict.fromkeys(kinds)]
            ratio = f"{min(ratios):.1f}-{max(ratios):.1f}" if ratios and r.rps else "-"
        else:
            mine = keel.get((r.kind, r.scenario))
            ratio = f"{mine.rps / r.rps:.1f}" if mine and r.rps else "-"
        lines.append(
            f"{r.server:<21}{r.kind:<21}{r.scenario:<20}{r.rps:>8.0f}{r.p50_ms:>9.2f}"
            f"{r.p99_ms:>9.2f}{r.errors:>7}{ratio:>8}"
        )
    lines.append(f"load average {os.getloadavg()[0]:.2f} at the end")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""Every model of a keel.yaml project through `keel serve`, beside `feast serve` on the same repo.

    .venv/bin/python benchmarks/bench_serving_project.py [--root /tmp/keel-bench-delivery]
        [--config path/to/keel.yaml --home path/to/workspace] [--seconds 5] [--no-feast]

Without `--config`, the delivery example (`examples/delivery`) is built small into `--root` if it
is not there yet (`tests.delivery_workspace.build_delivery_workspace`: generated, `feast apply`,
both models trained with a `champion`, materialized into the SQLite online store). The servers run
on a copy of the workspace without its prediction log (the project's own log stays untouched); the
Feast repo is used as it is (read only).

For every model of the project: requests drawn from the model's label table (its join keys and
request fields, distinct rows, shuffled, only entities with online features), one entity per
request at c=1 and c=8, batches of 10 at c=8 and of 100 at c=1, in Feast's columnar shape, to
`keel serve` (`/v1/models/{name}/predict`: features, model, durable log record) and to `feast
serve` (`/get-online-features` with the model's feature service and the same entities and request
fields: Feast's server computes the on-demand views too), one scenario after the other on both
servers so that both see the same machine. Every non-200 is an error and printed.

Then, in this process, what a feature read costs per call for 1 and 100 entities: Keel's
(`serving.runtime.feature_source`, as the server reads) in whole and its on-demand views'
`OnDemandView.compute` (the path the server uses: a verified row-wise twin, the pandas function
called directly, or Feast's transform; and Feast's `transform_arrow` with the others switched
off), and Feast's `FeatureStore.get_online_features`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from http_load import closed_loop
from server_start import started

from keel.core.project import Project, load_project
from keel.core.settings import Settings
from keel.feast_plumbing.feast_import import skip_typeguard_instrumentation
from keel.ops.server_process import free_port, settings_env

ROOT = Path(__file__).resolve().parents[1]
SETTLE_S = 5.0
"""Wait after `keel serve` is ready before measuring (it imports, in the background, what loading
a new version needs: `serving.model_files_cache.prepare_pipeline_loading`)."""
SCENARIOS = (
    ("1 entity, c=1", 1, 1),
    ("1 entity, c=8", 1, 8),
    ("10 entities, c=8", 10, 8),
    ("100 entities, c=1", 100, 1),
)
"""(name, entities per request, concurrent connections). At c=8 a request's p50 is mostly the
queue of the 7 others: c=1 gives a request's own latency."""
SHOWN_ERRORS = 5
FEAST_PATH = "/get-online-features"


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    load: float
    """The 1-minute load average when the run ended."""
    failures: Counter[tuple[int, str]]


@dataclass(frozen=True)
class Row:
    model: str
    task: str
    scorer: str
    scenario: str
    keel: Result
    feast: Result | None


@dataclass(frozen=True)
class ModelLoad:
    """One model's entities: label-table rows of its join keys and request fields (`columns`);
    `dropped` rows were left out for having no online features."""

    name: str
    task: str
    feature_service: str
    columns: list[str]
    rows: list[dict[str, Any]]
    dropped: int

    def batches(self, size: int) -> list[dict[str, list[Any]]]:
        """Columnar batches of `size` entities (wrapping around when there are fewer rows)."""
        count = max(1, len(self.rows) // size)
        out = []
        for i in range(count):
            chunk = [self.rows[(i * size + j) % len(self.rows)] for j in range(size)]
            out.append({c: [row[c] for row in chunk] for c in self.columns})
        return out


def load(url: str, path: str, bodies: list[dict[str, Any]], c: int, seconds: float) -> Result:
    """`c` keep-alive connections posting `bodies` in turn for `seconds` (after 0.5 s warm-up);
    each non-200 answer, warm-up included, is counted with its status and the start of its body."""
    run = closed_loop(url, path, bodies, c, seconds, stagger=7)
    failures = run.failures + run.warmup_failures
    return Result(
        requests=run.requests,
        errors=sum(failures.values()),
        rps=run.rps,
        p50_ms=run.percentile_ms(0.5),
        p99_ms=run.percentile_ms(0.99),
        load=os.getloadavg()[0],
        failures=failures,
    )


def workspace(args: argparse.Namespace) -> tuple[Path, Settings]:
    """The project's keel.yaml and Keel settings: `--config`/`--home`, or the delivery example
    built small into `--root` if it is not there yet."""
    if args.config is not None:
        home = args.home or (Path(os.environ["KEEL_HOME"]) if os.environ.get("KEEL_HOME") else None)
        if home is None:
            raise SystemExit("--config needs --home (the project's Keel workspace)")
        return args.config.resolve(), Settings(home=home.resolve())
    root = args.root.resolve()
    if not (root / "keel.yaml").is_file():
        print(f"building the delivery example into {root} ...", flush=True)
        # In a child process: training imports Feast with typeguard's checks, which this
        # process leaves off, as the server does, for the in-process timings.
        build = "import sys; from tests.delivery_workspace import build_delivery_workspace as b; "
        build += "from pathlib import Path; b(Path(sys.argv[1]))"
        pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        subprocess.run(
            [sys.executable, "-c", build, str(root)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": pythonpath},
            check=True,
        )
    return root / "keel.yaml", Settings(home=root / "ws")


def model_loads(
    project: Project, settings: Settings, names: Sequence[str], count: int, seed: int
) -> list[ModelLoad]:
    """Per model: up to `count` distinct label-table rows (join keys and request fields) whose
    entity has online features (read as the server reads them)."""
    from keel.feast_plumbing.project_checks import open_store, read_labels, service_schema
    from serving.runtime import feature_source

    store = open_store(project)
    out = []
    for name in names:
        model = project.model(name)
        schema = service_schema(store, store.get_feature_service(model.feature_service))
        columns = [t.name for t in (*schema.join_keys, *schema.request_fields)]
        frame = read_labels(model, schema)[columns].drop_duplicates()
        rows: list[dict[str, Any]] = frame.to_dict("records")  # Python values, not numpy's
        random.Random(seed).shuffle(rows)
        rows = rows[: count * 2]
        source = feature_source(store, model.feature_service, settings)
        known = source.get_rows(rows)
        close = getattr(source, "close", None)
        if close is not None:
            close()
        kept = [row for row, found in zip(rows, known, strict=True) if found is not None][:count]
        if not kept:
            raise SystemExit(f"model {name}: none of its label rows has online features")
        out.append(
            ModelLoad(name, model.task, model.feature_service, columns, kept, len(rows) - len(kept))
        )
    return out


def readiness(names: Sequence[str], served: int) -> Callable[[httpx.Response], bool]:
    """`/readyz` is 200 and each of `names` has its champion loaded (`served`: how many models
    the server serves; with one, `/readyz` reports it as `model`, else as `model.<name>`)."""

    def ready(answer: httpx.Response) -> bool:
        if answer.status_code != 200:
            return False
        checks = answer.json()["checks"]
        if served == 1:
            return bool(checks.get("model") == "ok")
        return all(checks.get(f"model.{n}") == "ok" for n in names)

    return ready


def scorers(url: str, names: Sequence[str], served: int) -> dict[str, str]:
    """The scoring path `/readyz` reports per model (treelite, numpy-linear, sklearn: ...)."""
    checks = httpx.get(f"{url}/readyz", timeout=10).json()["checks"]
    if served == 1:
        return {names[0]: str(checks.get("scoring", "?"))}
    return {n: str(checks.get(f"scoring.{n}", "?")) for n in names}


def champion_scorer(scoring: str) -> str:
    """`champion v3: treelite; challenger v4: sklearn (...)` -> `treelite`."""
    champion = scoring.split("; ")[0]
    return champion.split(": ", 1)[1] if ": " in champion else champion


def check_once(url: str, path: str, body: dict[str, Any], what: str) -> None:
    """One request before the load: its answer printed if it is not a 200, or if it is Keel's
    and some of its items are errors (an entity without online features)."""
    answer = httpx.post(url + path, json=body, timeout=30)
    if answer.status_code != 200:
        print(f"  {what}: {answer.status_code} {answer.text[:300]}", flush=True)
        return
    items = answer.json().get("predictions", [])
    failed = [item for item in items if "error" in item]
    if failed:
        print(f"  {what}: {len(failed)} of {len(items)} items failed: {failed[0]}", flush=True)


def _path(view: Any) -> str:
    """How the server computes an on-demand view (`serving.on_demand_views.OnDemandView`)."""
    if view.twin is not None:
        return "row-wise twin"
    if view.direct:
        return "pandas, called directly"
    return f"{view._odfv.mode}, Feast's transform"


def per_call_us(call: Callable[[], object], budget_s: float = 1.0, rounds: int = 10) -> float:
    """The best over `rounds` of the mean microseconds per call, each round about
    `budget_s / rounds` long (the best: the code's own cost on a machine others load)."""
    call()
    means = []
    for _ in range(rounds):
        n, started = 0, time.perf_counter()
        while True:
            call()
            n += 1
            elapsed = time.perf_counter() - started
            if elapsed > budget_s / rounds:
                break
        means.append(elapsed / n * 1e6)
    return min(means)


def on_demand_costs(project: Project, settings: Settings, loads: Sequence[ModelLoad]) -> list[str]:
    """Per model, 1 and 100 entities: Keel's feature read in whole, its on-demand views' share
    (as served, and with Feast's pandas transform), Feast's `get_online_features` in process."""
    import pandas as pd

    from keel.feast_plumbing.project_checks import open_store
    from serving.runtime import feature_source

    store = open_store(project)
    lines = [
        f"{'model':<18}{'rows':>5}{'keel read':>11}{'odfv':>8}{'rest':>8}{'share':>7}"
        f"{'odfv, feast path':>18}{'udf only':>10}{'feast get_online':>18}   on-demand views"
    ]
    for model in loads:
        source = feature_source(store, model.feature_service, settings)
        views = list(getattr(source, "_on_demand", []))
        service = store.get_feature_service(model.feature_service)
        for size in (1, 100):
            rows = [model.rows[i % len(model.rows)] for i in range(size)]
            inputs = _view_inputs(source, views, rows)
            read = per_call_us(lambda r=rows, s=source: s.get_rows(r))
            odfv = pandas = udf = 0.0
            for view in views:
                columns = inputs[view.name]
                odfv += per_call_us(lambda v=view, c=columns, s=size: v.compute(c, s))
                # Feast's own transform_arrow: no twin, no direct pandas call
                twin, direct = view.twin, view.direct
                view.twin, view.direct = None, False
                try:
                    pandas += per_call_us(lambda v=view, c=columns, s=size: v.compute(c, s))
                finally:
                    view.twin, view.direct = twin, direct
                function = getattr(view._odfv.feature_transformation, "udf", None)
                if view._odfv.mode == "pandas" and function is not None:
                    frame = pd.DataFrame({name: columns[name] for name in view.inputs})
                    udf += per_call_us(lambda f=function, x=frame: f(x))
            feast = per_call_us(
                lambda r=rows, f=service: store.get_online_features(features=f, entity_rows=r)
            )
            described = ", ".join(f"{v.name} ({_path(v)})" for v in views)
            share = f"{odfv / read:.0%}" if views else "-"
            lines.append(
                f"{model.name:<18}{size:>5}{read:>11.0f}{odfv:>8.0f}{read - odfv:>8.0f}{share:>7}"
                f"{pandas:>18.0f}{udf:>10.0f}{feast:>18.0f}   {described or '(none)'}"
            )
        close = getattr(source, "close", None)
        if close is not None:
            close()
    return lines


def _view_inputs(
    source: Any, views: Sequence[Any], rows: list[dict[str, Any]]
) -> dict[str, dict[str, list[Any]]]:
    """The input columns each on-demand view gets when `source` reads `rows` (caught in flight)."""
    captured: dict[str, dict[str, list[Any]]] = {}
    for view in views:

        def spy(columns: Mapping[str, list[Any]], size: int, _v: Any = view) -> Any:
            captured[_v.name] = dict(columns)
            return type(_v).compute(_v, columns, size)

        view.compute = spy
    try:
        source.get_rows(rows)
    finally:
        for view in views:
            del view.compute
    return captured


def print_table(rows: Sequence[Row], load_at_start: float) -> None:
    header = (
        f"{'model':<18}{'task':<11}{'scorer':<14}{'scenario':<19}"
        f"{'keel r/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'err':>5}"
        f"{'feast r/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'err':>5}{'keel/feast':>11}{'load':>6}"
    )
    lines = [
        f"load average {load_at_start:.2f} at the start ('load': after each row's keel run)",
        header,
        "-" * len(header),
    ]
    for r in rows:
        k, f = r.keel, r.feast
        line = (
            f"{r.model:<18}{r.task:<11}{champion_scorer(r.scorer)[:13]:<14}{r.scenario:<19}"
            f"{k.rps:>9.0f}{k.p50_ms:>8.2f}{k.p99_ms:>8.2f}{k.errors:>5}"
        )
        if f is None:
            line += f"{'-':>10}{'-':>8}{'-':>8}{'-':>5}{'-':>11}"
        else:
            ratio = f"{k.rps / f.rps:.2f}" if f.rps else "-"
            line += f"{f.rps:>10.0f}{f.p50_ms:>8.2f}{f.p99_ms:>8.2f}{f.errors:>5}{ratio:>11}"
        lines.append(line + f"{k.load:>6.1f}")
    lines.append(f"load average {os.getloadavg()[0]:.2f} at the end")
    sys.stdout.write("\n".join(lines) + "\n")


def print_failures(rows: Sequence[Row]) -> None:
    for r in rows:
        for server, result in (("keel serve", r.keel), ("feast serve", r.feast)):
            if result is None or not result.failures:
                continue
            print(f"non-200 from {server}, {r.model}, {r.scenario}:")
            for (status, body), n in result.failures.most_common(SHOWN_ERRORS):
                print(f"  {n} x {status}: {body}")


def measure(
    loads: Sequence[ModelLoad],
    scorers: Mapping[str, str],
    keel_url: str,
    feast_url: str | None,
    seconds: float,
) -> list[Row]:
    """Each model's scenarios, each on `keel serve` then on `feast serve` (if `feast_url`)."""
    rows = []
    for m in loads:
        keel_path = f"/v1/models/{m.name}/predict"
        keel_bodies = {n: [{"entities": b} for b in m.batches(n)] for _, n, _ in SCENARIOS}
        feast_bodies = {
            n: [{"feature_service": m.feature_service, "entities": b} for b in m.batches(n)]
            for _, n, _ in SCENARIOS
        }
        largest = max(n for _, n, _ in SCENARIOS)
        check_once(keel_url, keel_path, keel_bodies[largest][0], f"keel serve, {m.name}")
        if feast_url is not None:
            check_once(feast_url, FEAST_PATH, feast_bodies[largest][0], f"feast serve, {m.name}")
        for scenario, size, c in SCENARIOS:
            keel = load(keel_url, keel_path, keel_bodies[size], c, seconds)
            feast = None
            if feast_url is not None:
                feast = load(feast_url, FEAST_PATH, feast_bodies[size], c, seconds)
            rows.append(Row(m.name, m.task, scorers[m.name], scenario, keel, feast))
            print(f"  {m.name}, {scenario}: done", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/keel-bench-delivery"))
    parser.add_argument("--config", type=Path, help="an existing project's keel.yaml")
    parser.add_argument("--home", type=Path, help="its Keel workspace (KEEL_HOME)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--models", default="", help="comma-separated (default: every model)")
    parser.add_argument("--entities", type=int, default=400, help="distinct rows per model")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-feast", action="store_true", help="keel serve only")
    parser.add_argument("--no-odfv", action="store_true", help="skip the in-process timings")
    args = parser.parse_args()
    # Feast as the server imports it (`keel.feast_plumbing.feast_import`): timings match it.
    typeguard_off = skip_typeguard_instrumentation()
    config, settings = workspace(args)
    project = load_project(config)
    names = [n for n in args.models.split(",") if n] or [m.name for m in project.models]
    loads = model_loads(project, settings, names, args.entities, args.seed)
    for m in loads:
        print(
            f"{m.name} ({m.task}, {m.feature_service}): {len(m.rows)} entities "
            f"({', '.join(m.columns)}); {m.dropped} label rows without online features left out",
            flush=True,
        )
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "keel-home"
        shutil.copytree(settings.home, home, ignore=shutil.ignore_patterns("predictions"))
        bench = Settings(**{**settings.model_dump(), "home": home, "workers": args.workers})
        keel_env = {**env, **settings_env(bench), "KEEL_CONFIG": str(config)}
        keel_port, feast_port = free_port(), free_port()
        keel_url, feast_url = f"http://127.0.0.1:{keel_port}", f"http://127.0.0.1:{feast_port}"
        keel_cmd = [
            *(sys.executable, "-m", "keel.cli.main", "serve"),
            *("--port", str(keel_port), "--workers", str(args.workers)),
        ]
        feast_cmd = [
            *(f"{bin_dir}/feast", "-c", str(project.feature_repo), "serve"),
            *("-h", "127.0.0.1", "-p", str(feast_port), "-w", str(args.workers)),
            *("--no-access-log", "--max-requests", "100000000"),  # gunicorn recycles at 1,000
        ]
        with started(
            keel_cmd, keel_env, keel_url + "/readyz", readiness(names, len(project.models))
        ) as keel_log:
            print(f"keel serve on {keel_url} (log {keel_log})", flush=True)
            kinds = scorers(keel_url, names, len(project.models))
            feast_up = (
                started(feast_cmd, env, feast_url + "/health", lambda a: a.status_code == 200)
                if not args.no_feast
                else None
            )
            with feast_up or contextlib.nullcontext():
                time.sleep(SETTLE_S)  # the libraries it imports in the background once ready
                rows = measure(
                    loads, kinds, keel_url, None if feast_up is None else feast_url, args.seconds
                )
    print()
    print_table(rows, load_at_start)
    for name, kind in kinds.items():
        print(f"scorer of {name}: {kind}")
    print_failures(rows)
    if not args.no_odfv:
        checks = "off, as in keel serve" if typeguard_off else "ON (unlike keel serve)"
        print(
            "\nOne feature read in this process (µs per call, best of 10 rounds of 0.1 s; "
            f"typeguard's instrumentation of Feast {checks}):"
        )
        print("\n".join(on_demand_costs(project, settings, loads)))


if __name__ == "__main__":
    main()

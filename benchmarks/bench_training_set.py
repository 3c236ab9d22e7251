"""Training-set benchmark: Keel's point-in-time path (Feast, DuckDB offline store) against the
raw floor (DuckDB ASOF JOINs on the same Parquet), each in its own process, in one run.

    python benchmarks/bench_training_set.py                       # 1M entity rows
    python benchmarks/bench_training_set.py --entities 10000000   # the 10M memory check

    python benchmarks/bench_training_set.py --in-run              # also inside an MLflow run

Prints wall time, peak RSS and rows for both paths and their ratio, where Keel's time goes
(Feast's job incl. its MLflow client, the DuckDB query, the on-demand views, the rest), the load
average around the run, and checks that both paths produce the same values on a sample.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

BENCH_HOME = Path("/tmp/keel-bench-training")
END = date(2026, 1, 1)

RAW_SQL = """
WITH e AS (SELECT * FROM read_parquet('{entities}')),
p AS (SELECT * FROM read_parquet('{features}/customer_profile.parquet')),
a AS (SELECT * FROM read_parquet('{features}/customer_activity.parquet')),
s AS (SELECT * FROM read_parquet('{features}/customer_support.parquet')),
ep AS (SELECT e.*, p.plan, p.region, p.monthly_price, p.signup_unix
       FROM e ASOF LEFT JOIN p
       ON e.customer_id = p.customer_id AND e.event_timestamp >= p.event_timestamp),
ea AS (SELECT ep.*, a.event_timestamp AS a_ts, a.* EXCLUDE (customer_id, event_timestamp)
       FROM ep ASOF LEFT JOIN a
       ON ep.customer_id = a.customer_id AND ep.event_timestamp >= a.event_timestamp),
es AS (SELECT ea.*, s.event_timestamp AS s_ts, s.* EXCLUDE (customer_id, event_timestamp)
       FROM ea ASOF LEFT JOIN s
       ON ea.customer_id = s.customer_id AND ea.event_timestamp >= s.event_timestamp)
SELECT * EXCLUDE (a_ts, s_ts, logins_7d, tickets_30d),
       CASE WHEN a_ts >= event_timestamp - INTERVAL 2 DAY THEN logins_7d END AS logins_7d,
       CASE WHEN s_ts >= event_timestamp - INTERVAL 2 DAY THEN tickets_30d END AS tickets_30d,
       CASE WHEN signup_unix IS NOT NULL
            THEN greatest((as_of_unix - signup_unix) / 86400.0, 0) END AS tenure_days
FROM es
"""


# Columns the raw SQL computes with Keel's semantics (it applies the TTL to two columns only).
COMPARED = (
    "plan",
    "region",
    "monthly_price",
    "signup_unix",
    "logins_7d",
    "tickets_30d",
    "tenure_days",
)


def prepare(customers: int, days: int, entities: int) -> Path:
    """Generate the workspace once (cached) and an entity frame of the requested size."""
    from keel.core.settings import Settings
    from keel.feast_plumbing.features import apply_definitions
    from synthetic.churn_dataset import generate_dataset

    settings = Settings(home=BENCH_HOME)
    features = BENCH_HOME / "data" / "features"
    if not (features / "customer_activity.parquet").exists():
        generate_dataset(settings, customers=customers, days=days, seed=1, end=END)
        apply_definitions(settings)
    path = BENCH_HOME / f"entities_{entities}.parquet"
    if not path.exists():
        rng = np.random.default_rng(0)
        start = pd.Timestamp(END, tz="UTC") - pd.Timedelta(days=days - 30)
        seconds = rng.integers(0, (days - 31) * 86_400, entities)
        ts = (start + pd.to_timedelta(seconds, unit="s")).astype("datetime64[us, UTC]")
        frame = pd.DataFrame(
            {"customer_id": rng.integers(1, customers + 1, entities), "event_timestamp": ts}
        )
        frame["as_of_unix"] = frame["event_timestamp"].astype("int64") // 1_000_000
        frame.to_parquet(path, index=False)
    return path


def run_keel(entities_path: Path, *, in_run: bool = False) -> dict[str, float]:
    """`build_training_frame` as `keel train` calls it; `in_run`: inside an MLflow run started
    (with MLflow imported and its client built) before the clock starts, as training does, so
    the time includes Feast's lineage logging onto that run."""
    from keel.core.settings import Settings
    from keel.feast_plumbing.feature_store import open_store
    from training.dataset import build_training_frame

    store = open_store(Settings(home=BENCH_HOME))
    phases = _time_phases(store)
    entities = pd.read_parquet(entities_path)
    run = store.mlflow.start_run(run_name="bench-training-set") if in_run else nullcontext()
    with run:
        phases.update(dict.fromkeys(phases, 0.0))  # only what the training call itself spends
        started = time.perf_counter()
        frame = build_training_frame(store, entities, feature_service="churn_v1").frame
        elapsed = time.perf_counter() - started
    frame.sample(2000, random_state=0).to_parquet(BENCH_HOME / "sample_keel.parquet")
    timed = phases["feast_job_s"] + phases["query_s"] + phases["on_demand_s"]
    return {
        "seconds": elapsed,
        "rows": len(frame),
        "columns": frame.shape[1],
        **phases,
        "rest_s": elapsed - timed,
    }


def _time_phases(store: Any) -> dict[str, float]:
    """Wrap, in this child process only, what the training call goes through: Feast's
    `get_historical_features` (the job: registry reads, checks, entity frame, and Feast's MLflow
    client if it builds one, timed apart), Keel's DuckDB query, Feast's on-demand views."""
    from feast import FeatureStore
    from feast.on_demand_feature_view import OnDemandFeatureView

    from keel.feast_plumbing.offline_store import KeelRetrievalJob
    from keel.feast_plumbing.offline_views import ColumnsReadView

    phases = {"feast_job_s": 0.0, "mlflow_client_s": 0.0, "query_s": 0.0, "on_demand_s": 0.0}

    def timed(function: Any, key: str) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[key] += time.perf_counter() - started

        return run

    store.get_historical_features = timed(store.get_historical_features, "feast_job_s")
    for owner, method, key in (
        (FeatureStore, "_init_mlflow", "mlflow_client_s"),
        (KeelRetrievalJob, "_to_arrow_internal", "query_s"),
        (OnDemandFeatureView, "transform_arrow", "on_demand_s"),
        (ColumnsReadView, "transform_arrow", "on_demand_s"),  # Feast's steps, not that method
    ):
        setattr(owner, method, timed(getattr(owner, method), key))
    return phases


def run_raw(entities_path: Path) -> dict[str, float]:
    features = BENCH_HOME / "data" / "features"
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    frame = con.execute(RAW_SQL.format(entities=entities_path, features=features)).df()
    elapsed = time.perf_counter() - started
    frame.to_parquet(BENCH_HOME / "sample_raw.parquet") if len(frame) < 5000 else None
    return {"seconds": elapsed, "rows": len(frame), "columns": frame.shape[1]}


def child(path_name: str, entities_path: Path) -> None:
    if path_name == "raw":
        result = run_raw(entities_path)
    else:
        result = run_keel(entities_path, in_run=path_name == "keel_in_run")
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps(result))


def check_equal() -> str:
    """The Keel sample's values against the raw join for the same (customer, time) keys."""
    sample = pd.read_parquet(BENCH_HOME / "sample_keel.parquet")
    keys = BENCH_HOME / "sample_keys.parquet"
    sample[["customer_id", "event_timestamp", "as_of_unix"]].to_parquet(keys, index=False)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    raw = con.execute(RAW_SQL.format(entities=keys, features=BENCH_HOME / "data" / "features")).df()
    merged = sample.merge(raw, on=["customer_id", "event_timestamp"], suffixes=("", "_raw"))
    for column in COMPARED:
        got, want = merged[column], merged[f"{column}_raw"]
        if got.dtype == object or want.dtype == object:
            same = (got.fillna("<null>") == want.fillna("<null>")).to_numpy()
        else:
            same = np.isclose(got.astype(float), want.astype(float), equal_nan=True)
        if not same.all():
            return f"MISMATCH in {column}: {(~same).sum()} of {len(merged)} rows"
    return f"equal on {len(merged)} sampled rows"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=11_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--child", choices=["keel", "keel_in_run", "raw"])
    parser.add_argument(
        "--in-run", action="store_true", help="also time Keel inside an MLflow run, as training"
    )
    parser.add_argument("--entities-path", type=Path)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each path (alternating); medians shown"
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.entities_path)
        return
    entities_path = prepare(args.customers, args.days, args.entities)
    feature_rows = {
        p.name: duckdb.execute(f"SELECT COUNT(*) FROM read_parquet('{p}')").fetchall()[0][0]
        for p in sorted((BENCH_HOME / "data" / "features").glob("*.parquet"))
    }
    print(f"feature rows: {feature_rows} (total {sum(feature_rows.values()):,})")
    load = os.getloadavg()
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.rounds):  # alternating, so a slow phase of the machine hits both
        for name in ("raw", "keel", *(["keel_in_run"] if args.in_run else [])):
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, "--entities-path", str(entities_path)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.setdefault(name, []).append(json.loads(out.stdout.strip().splitlines()[-1]))
    results = {
        name: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        for name, rs in runs.items()
    }
    print(f"load before: {load}")
    if args.rounds > 1:
        for name in results.keys() - {"raw"}:
            ratios = [
                k["seconds"] / r["seconds"] for k, r in zip(runs[name], runs["raw"], strict=False)
            ]
            print(f"{name} / raw per round: {', '.join(f'{x:.2f}' for x in ratios)}")
        print(f"medians of {args.rounds} rounds:")
    print(f"{'path':<12} {'entity rows':>12} {'seconds':>9} {'peak RSS GB':>12}")
    for name, r in results.items():
        print(f"{name:<12} {int(r['rows']):>12,} {r['seconds']:>9.2f} {r['peak_rss_gb']:>12.2f}")
    for name in results.keys() - {"raw"}:
        r = results[name]
        print(
            f"{name} phases: feast job {r['feast_job_s']:.2f} s (of which Feast's MLflow client "
            f"{r['mlflow_client_s']:.2f} s), DuckDB query {r['query_s']:.2f} s, on-demand views "
            f"{r['on_demand_s']:.2f} s, rest (normalise, sort, to pandas) {r['rest_s']:.2f} s"
        )
    for name in results.keys() - {"raw"}:
        ratio = results[name]["seconds"] / results["raw"]["seconds"]
        print(f"{name} / raw time ratio: {ratio:.2f} (goal <= 1.2 at 1M rows, <= 1.1 at 10M)")
    print(f"load after: {os.getloadavg()}")
    print(check_equal())


if __name__ == "__main__":
    main()

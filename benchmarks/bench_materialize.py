"""Materialization benchmark: Feast's `store.materialize` into Redis against Keel's Redis writer
(`keel/feast_plumbing/redis_materializer.py`) and a raw pipelined redis-py floor, in one run
(issue #9).

    python benchmarks/bench_materialize.py                 # 300k rows x 11 features
    python benchmarks/bench_materialize.py --rows 50000

One synthetic Parquet table (one row per customer, 11 features: categorical strings, ints,
floats with nulls, a timestamp) is materialized by each path in its own fresh process into its
own Feast project on the same Redis: `feast` is `FeatureStore.materialize`, `keel` is
`RedisMaterializer.materialize` (read + encode + write + registry), `floor` is a redis-py
pipeline sending the same HSETs Keel builds (encoded before the clock starts, no reads). Each
child reads a sample back (raw hashes and `get_online_features`) and deletes its keys; the parent
checks that the three samples are identical and prints rows/s and the ratios.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

BENCH_HOME = Path("/tmp/keel-bench-materialize")
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2025, 2, 1, tzinfo=UTC)
VIEW = "bench_customer"
SAMPLE = 500
FLOOR_CHUNK_ROWS = 5_000
FEATURES: dict[str, str] = {
    "plan": "String",
    "region": "String",
    "tenure_days": "Int64",
    "logins_30d": "Int64",
    "sessions_30d": "Int64",
    "tickets_90d": "Int64",
    "monthly_price": "Float64",
    "minutes_30d": "Float64",
    "spend_90d": "Float64",
    "churn_score": "Float64",
    "last_login": "UnixTimestamp",
}


def prepare(rows: int) -> Path:
    """The synthetic feature table (cached per row count)."""
    path = BENCH_HOME / f"features_{rows}.parquet"
    if path.exists():
        return path
    BENCH_HOME.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    event = pd.Timestamp(START) + pd.to_timedelta(rng.integers(0, 30 * 86_400, rows), unit="s")
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "event_timestamp": event.astype("datetime64[us, UTC]"),
            "plan": rng.choice(["basic", "pro", "team", "enterprise"], rows),
            "region": rng.choice(["eu", "us", "apac", "latam", "mea"], rows),
            "tenure_days": rng.integers(0, 3000, rows),
            "logins_30d": rng.poisson(12, rows),
            "sessions_30d": rng.poisson(20, rows),
            "tickets_90d": pd.array(rng.poisson(1, rows), dtype="Int64"),
            "monthly_price": rng.choice([9.0, 29.0, 99.0, 499.0], rows),
            "minutes_30d": rng.gamma(2.0, 60.0, rows),
            "spend_90d": rng.normal(120, 40, rows),
            "churn_score": rng.random(rows),
            "last_login": (event - pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s")).astype(
                "datetime64[us, UTC]"
            ),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "tickets_90d"] = pd.NA
    frame.loc[rng.random(rows) < 0.05, "minutes_30d"] = np.nan
    frame.to_parquet(path, index=False)
    return path


def open_bench_store(data: Path, project: str, redis_url: str) -> Any:
    """A Feast store on `project`: Redis online store, Keel's DuckDB offline store."""
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, types
    from feast.data_format import ParquetFormat
    from feast.value_type import ValueType

    from keel.core.backends import feast_redis_connection

    repo = BENCH_HOME / project
    repo.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(
        project=project,
        provider="local",
        registry=str(repo / "registry.db"),
        online_store={"type": "redis", "connection_string": feast_redis_connection(redis_url)},
        offline_store={"type": "keel.offline_store.KeelDuckDBOfflineStore"},
        entity_key_serialization_version=3,
    )
    config.repo_path = repo
    store = FeatureStore(repo_path=str(repo), config=config)
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    source = FileSource(
        name="bench_source",
        path=str(data),
        file_format=ParquetFormat(),
        timestamp_field="event_timestamp",
    )
    view = FeatureView(
        name=VIEW,
        entities=[customer],
        ttl=timedelta(0),
        schema=[Field(name=name, dtype=getattr(types, t)) for name, t in FEATURES.items()],
        source=source,
        online=True,
    )
    store.apply([customer, view])
    return store


def _write_floor(store: Any) -> dict[str, float]:
    """Keel's encoded rows sent as plain pipelined HSETs: no read, no `_ts` check, no encode."""
    from keel.feast_plumbing.redis_materializer import RedisMaterializer, encode_rows, latest_rows

    view = store.get_feature_view(VIEW)
    rows = encode_rows(latest_rows(store, view, START, END), view, store.config)
    args = [rows.hset_args(i) for i in range(len(rows.keys))]
    client = RedisMaterializer(store).client
    started = time.perf_counter()
    with client.pipeline(transaction=False) as pipe:
        for lo in range(0, len(rows.keys), FLOOR_CHUNK_ROWS):
            for i in range(lo, min(lo + FLOOR_CHUNK_ROWS, len(rows.keys))):
                pipe.execute_command("HSET", rows.keys[i], *args[i])
            pipe.execute()
    return {"seconds": time.perf_counter() - started, "rows": len(rows.keys)}


def _run_path(path: str, store: Any) -> dict[str, float]:
    if path == "floor":
        return _write_floor(store)
    started = time.perf_counter()
    if path == "feast":
        store.materialize(start_date=START, end_date=END, feature_views=[VIEW])
        return {"seconds": time.perf_counter() - started, "rows": _count_rows(store)}
    from keel.feast_plumbing.redis_materializer import RedisMaterializer

    (result,) = RedisMaterializer(store).materialize([VIEW], start=START, end=END)
    return {
        "seconds": time.perf_counter() - started,
        "rows": result.written,
        "read_s": result.read_seconds,
        "encode_s": result.encode_seconds,
        "write_s": result.write_seconds,
    }


def _count_rows(store: Any) -> int:
    import duckdb

    source = store.get_feature_view(VIEW).batch_source.path
    return int(duckdb.execute(f"SELECT COUNT(*) FROM read_parquet('{source}')").fetchall()[0][0])


def child(path: str, data: Path, redis_url: str, rows: int) -> None:
    """One path in this fresh process; prints its figures, pickles its sample, drops its keys."""
    import redis

    project = f"benchmat{path}{uuid.uuid4().hex[:6]}"
    store = open_bench_store(data, project, redis_url)
    result = _run_path(path, store)
    ids = np.random.default_rng(1).choice(np.arange(1, rows + 1), SAMPLE, replace=False).tolist()
    refs = [f"{VIEW}:{name}" for name in FEATURES]
    features = store.get_online_features(
        features=refs, entity_rows=[{"customer_id": i} for i in ids]
    ).to_dict()
    client = redis.Redis.from_url(redis_url)
    suffix = project.encode()
    keys = list(client.scan_iter(match=b"*" + suffix, count=10_000))
    hashes = {key[: -len(suffix)]: client.hgetall(key) for key in keys[:SAMPLE]}
    result["keys"] = len(keys)
    for lo in range(0, len(keys), 10_000):
        client.delete(*keys[lo : lo + 10_000])
    with open(BENCH_HOME / f"sample_{path}.pkl", "wb") as out:
        pickle.dump({"features": features, "hashes": hashes}, out)
    print(json.dumps(result))


def check_identical(paths: list[str]) -> str:
    samples = {p: pickle.loads((BENCH_HOME / f"sample_{p}.pkl").read_bytes()) for p in paths}
    feast = samples["feast"]
    for path in paths[1:]:
        if samples[path]["features"] != feast["features"]:
            return f"MISMATCH: get_online_features of {path} differs from feast"
        shared = feast["hashes"].keys() & samples[path]["hashes"].keys()
        if any(samples[path]["hashes"][k] != feast["hashes"][k] for k in shared):
            return f"MISMATCH: raw Redis hashes of {path} differ from feast"
    return f"identical: {SAMPLE} customers via get_online_features, sampled raw hashes byte-equal"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--child", choices=["feast", "keel", "floor"])
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.redis_url, args.rows)
        return
    console = Console()
    paths = ["feast", "keel", "floor"]
    results: dict[str, dict[str, float]] = {}
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task(f"preparing {args.rows:,} rows x {len(FEATURES)} features")
        data = prepare(args.rows)
        for path in paths:
            progress.update(task, description=f"materializing: {path} (own process)")
            command = [sys.executable, "-W", "ignore", __file__, "--child", path]
            command += ["--data", str(data), "--redis-url", args.redis_url]
            command += ["--rows", str(args.rows)]
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            results[path] = json.loads(out.stdout.strip().splitlines()[-1])
        progress.update(task, description="comparing samples")
        verdict = check_identical(paths)
    table = Table(
        title=f"Materialization into Redis: {args.rows:,} rows x {len(FEATURES)} features"
    )
    for column in ("path", "rows written", "seconds", "rows/s", "keel x"):
        table.add_column(column, justify="left" if column == "path" else "right")
    rate = {p: r["rows"] / r["seconds"] for p, r in results.items()}
    for path, result in results.items():
        table.add_row(
            path,
            f"{int(result['rows']):,}",
            f"{result['seconds']:.2f}",
            f"{rate[path]:,.0f}",
            f"{rate['keel'] / rate[path]:.2f}",
        )
    console.print(table)
    keel = results["keel"]
    console.print(
        f"keel phases: read {keel['read_s']:.2f} s, encode {keel['encode_s']:.2f} s, "
        f"write (incl. _ts reads) {keel['write_s']:.2f} s"
    )
    console.print(
        f"keel / feast: {rate['keel'] / rate['feast']:.2f}x (goal >= 3), "
        f"keel / floor: {rate['keel'] / rate['floor']:.2f}"
    )
    console.print(verdict)


if __name__ == "__main__":
    main()

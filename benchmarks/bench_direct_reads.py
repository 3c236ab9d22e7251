"""Online reads per call: Keel's direct reads beside Feast's `get_online_features`.

    .venv/bin/python benchmarks/bench_direct_reads.py [--redis redis://127.0.0.1:6379/3]
                                                        [--seconds 2] [--workdir DIR]

Builds, in a temporary directory, the churn workspace (small demo data, `keel features apply`
and `materialize`) and the delivery example (generated small, `feast apply`, materialized),
each into its SQLite online store and, with `--redis`, into Redis too (the same registry with a
Redis online store, a project of its own; removed at the end). Then, for 1 and 100 entities per
call, times `DirectSqliteFeatures` / `DirectRedisFeatures.get_rows` and Feast's
`get_online_features` on the same rows (after checking they agree) and prints the median and
p99 latency per call with the machine's load average.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import redis
from feast import FeatureStore, RepoConfig

from keel.core.settings import Settings
from keel.feast_plumbing.feature_store import open_store
from keel.feast_plumbing.features import apply_definitions, materialize
from serving.direct_features import DirectFeatures, DirectRedisFeatures, DirectSqliteFeatures
from synthetic.churn_dataset import generate_dataset

ROOT = Path(__file__).resolve().parents[1]
DELIVERY = ROOT / "examples" / "delivery"
Rows = list[dict[str, Any]]


def timed(call: Callable[[], object], seconds: float) -> list[float]:
    """Milliseconds per call, calling for about `seconds` (at least 20 calls)."""
    for _ in range(5):
        call()
    out: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(out) < 20:
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def churn_store(workdir: Path) -> tuple[FeatureStore, str, Rows]:
    settings = Settings(home=workdir / "churn-home")
    generate_dataset(settings, customers=1500, days=60, seed=7)
    apply_definitions(settings)
    materialize(settings)
    store = open_store(settings)
    return store, settings.feature_service, [{"customer_id": i} for i in range(1, 1501)]


def _delivery_helper() -> Any:
    """The tests' helper that copies, generates small and applies the example (loaded from its
    file: the tests are no installed package)."""
    path = ROOT / "tests" / "integration" / "delivery_example.py"
    spec = importlib.util.spec_from_file_location("delivery_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def delivery_store(workdir: Path) -> tuple[FeatureStore, str, Rows]:
    root = _delivery_helper().applied_example(workdir / "delivery")
    store = FeatureStore(repo_path=str(root / "feature_repo"))
    store.materialize(start_date=datetime(2026, 3, 1, tzinfo=UTC), end_date=datetime.now(UTC))
    pairs = pd.read_parquet(root / "feature_repo" / "data" / "courier_zone_weekly.parquet")
    rng = random.Random(1)
    rows = [
        {
            "courier_id": str(c),
            "zone_id": str(z),
            "distance_km": round(rng.uniform(0.5, 10), 2),
            "order_hour": rng.randrange(24),
        }
        for c, z in zip(pairs.courier_id, pairs.zone_id, strict=True)
    ]
    return store, "delivery_eta_v1", rows


@contextmanager
def on_redis(store: FeatureStore, url: str) -> Iterator[FeatureStore]:
    """The same registry with a Redis online store under a project of its own, materialized."""
    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    raw = store.config.model_dump(by_alias=True, exclude_none=True)
    raw["online_store"] = {
        "type": "redis",
        "connection_string": f"{parts.hostname}:{parts.port or 6379},db={db}",
    }
    config = RepoConfig(**raw)
    config.repo_path = store.config.repo_path
    twin = FeatureStore(repo_path=str(store.repo_path), config=config)
    twin.materialize(start_date=datetime(2025, 1, 1, tzinfo=UTC), end_date=datetime.now(UTC))
    try:
        yield twin
    finally:
        twin._get_provider().teardown_infra(  # the online rows only
            twin.project, twin.list_feature_views(), twin.list_entities()
        )


def measure(
    label: str, store: FeatureStore, service: str, direct: DirectFeatures, rows: Rows, secs: float
) -> list[tuple[str, int, str, float, float]]:
    feature_service = store.get_feature_service(service)
    out: list[tuple[str, int, str, float, float]] = []
    for size in (1, 100):
        batch = rows[:size]

        def via_direct(batch: Rows = batch) -> object:
            return direct.get_rows(batch)

        def via_feast(batch: Rows = batch) -> object:
            return store.get_online_features(features=feature_service, entity_rows=batch).to_dict()

        got = direct.get_rows(batch)
        assert len(got) == size and any(row is not None for row in got)
        for name, call in (("direct", via_direct), ("feast", via_feast)):
            ms = timed(call, secs)
            p99 = statistics.quantiles(ms, n=100)[98]
            out.append((label, size, name, statistics.median(ms), p99))
    return out


def with_as_of(rows: Sequence[dict[str, Any]], service: str) -> Rows:
    return (
        [dict(row, as_of_unix=1_773_900_000) for row in rows]
        if service == "churn_v1"
        else list(rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=None, help="a Redis URL (a db of your own)")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-direct-"))
    results = []
    for name, build in (("churn", churn_store), ("delivery", delivery_store)):
        store, service, rows = build(workdir / name)
        rows = with_as_of(rows, service)
        direct = DirectSqliteFeatures(store, service)
        results += measure(f"{name} sqlite", store, service, direct, rows, args.seconds)
        direct.close()
        if args.redis:
            with on_redis(store, args.redis) as on_r:
                client = redis.Redis.from_url(args.redis)
                direct_r = DirectRedisFeatures(on_r, service, client)
                results += measure(f"{name} redis", on_r, service, direct_r, rows, args.seconds)
                client.close()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"{'store':16} {'rows':>4} {'path':7} {'p50 ms':>8} {'p99 ms':>8}")
    for label, size, path, p50, p99 in results:
        print(f"{label:16} {size:>4} {path:7} {p50:8.3f} {p99:8.3f}")
    for label, size, *_ in results[::2]:
        direct_ms = next(r[3] for r in results if r[:3] == (label, size, "direct"))
        feast_ms = next(r[3] for r in results if r[:3] == (label, size, "feast"))
        print(f"{label:16} {size:>4} direct is {feast_ms / direct_ms:5.1f}x faster than Feast")


if __name__ == "__main__":
    main()

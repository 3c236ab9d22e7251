"""`keel score` against `mlflow.pyfunc` on the same customers, frame and champion, in one run.

    python benchmarks/bench_batch_score.py --model-home /tmp/keel-demo [--rows 1000000]

The workspace `--home` is generated once (`--rows` customers x `--days` days, seed 1); the
champion of `--model-home` (a demo workspace: its fitted pipeline, tags and threshold) is
registered there as `churn@champion`, with its compiled scorer as training logs it. Then:

1. `keel score` as a user runs it, in a fresh process, on every customer as of the data's end:
   point-in-time features from the offline store, the champion's scores, one log record each,
   a Parquet file; wall time and rows/s.
2. The same customers' point-in-time frame from the offline store (Feast, one call), timed.
3. `mlflow.pyfunc.load_model("models:/churn@champion").predict(frame)` on that frame.
4. Keel's scorer (the champion's compiled one) on the same frame, as rows, as `keel score` does.

`keel score`'s probabilities are checked against the pipeline's `predict_proba` on the frame.
Prints rows/s per step, the model kind and the load average around the run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

END = date(2026, 1, 1)
AS_OF = datetime(END.year, END.month, END.day, tzinfo=UTC)
COPIED_TAGS = ("keel.threshold", "keel.task", "keel.candidate")


def prepare(home: Path, model_home: Path, rows: int, days: int) -> None:
    """Generate the workspace and register `model_home`'s champion in it, once each."""
    from keel.core.settings import Settings
    from keel.core.workspace import Workspace
    from keel.feast_plumbing.features import apply_definitions
    from synthetic.churn_dataset import generate_dataset

    settings = Settings(home=home)
    shape = home / "bench-shape.txt"
    wanted = f"{rows} customers x {days} days"
    if not (Workspace.from_settings(settings).features_dir / "customer_activity.parquet").exists():
        generate_dataset(settings, customers=rows, days=days, seed=1, end=END)
        apply_definitions(settings)
        shape.write_text(wanted)
    elif not shape.exists() or shape.read_text() != wanted:
        held = shape.read_text() if shape.exists() else "an unknown shape"
        raise SystemExit(f"{home} holds {held}, not {wanted}: give another --home")
    register_champion(settings, Settings(home=model_home))


def register_champion(settings: Any, source: Any) -> None:
    """`source`'s champion pipeline as `settings`' champion (skipped when one is there)."""
    import mlflow
    import mlflow.sklearn

    from keel.core.errors import ModelNotFound
    from registry.client import ensure_experiment, fluent_tracking, mlflow_client
    from registry.models import CHAMPION, load_alias, resolve_version
    from training.models import SKOPS_TRUSTED_TYPES
    from training.run_logging import model_requirements
    from training.scorer_artifact import log_compiled_scorer

    client = mlflow_client(settings)
    name = settings.model_name
    try:
        resolve_version(client, name, CHAMPION)
        return
    except ModelNotFound:
        pass
    model = load_alias(mlflow_client(source), source.model_name)
    experiment = ensure_experiment(settings, client)
    with fluent_tracking(client.tracking_uri), mlflow.start_run(experiment_id=experiment):
        mlflow.set_experiment(experiment_id=experiment)
        info = mlflow.sklearn.log_model(
            model.pipeline,
            name="model",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=model_requirements(),
        )
        version = str(mlflow.register_model(info.model_uri, name).version)
    for tag in COPIED_TAGS:
        if tag in model.tags:
            client.set_model_version_tag(name, version, tag, model.tags[tag])
    client.set_registered_model_alias(name, CHAMPION, version)
    log_compiled_scorer(client, name, version, model.pipeline)


def run_keel_score(home: Path, rows: int) -> tuple[float, pd.DataFrame]:
    """`keel score` on customers 1..rows in a fresh process: wall seconds and its output."""
    from keel.core.settings import Settings
    from keel.ops.server_process import settings_env

    ids, out = home / f"customers_{rows}.parquet", home / f"scores_{rows}.parquet"
    pd.DataFrame({"customer_id": np.arange(1, rows + 1)}).to_parquet(ids, index=False)
    command = [sys.executable, "-m", "keel.cli.main", "score", "--input", str(ids)]
    command += ["--as-of", AS_OF.isoformat(), "--output", str(out)]
    env = {**os.environ, **settings_env(Settings(home=home)), "COLUMNS": "200"}
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, pd.read_parquet(out)


def point_in_time_frame(home: Path, rows: int) -> tuple[float, pd.DataFrame]:
    """The customers' features as of `AS_OF`, from the offline store as `keel score` reads them."""
    from keel.core.settings import Settings
    from keel.feast_plumbing.feature_store import open_store
    from serving.online_features import REQUEST_FIELD
    from training.dataset import normalise_entity_frame

    settings = Settings(home=home)
    key = settings.keyed_route.key
    store = open_store(settings)
    service = store.get_feature_service(settings.feature_service)
    entities = normalise_entity_frame(
        pd.DataFrame(
            {
                key: np.arange(1, rows + 1),
                "event_timestamp": AS_OF,
                REQUEST_FIELD: int(AS_OF.timestamp()),
            }
        )
    )
    started = time.perf_counter()
    frame = store.get_historical_features(entity_df=entities, features=service).to_df()
    return time.perf_counter() - started, frame.sort_values(key, ignore_index=True)


def line(what: str, seconds: float, rows: int) -> None:
    print(f"{what:<44} {seconds:8.1f} s {rows / seconds:>12,.0f} rows/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/keel-bench-score"))
    parser.add_argument("--model-home", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument(
        "--keel-rows", type=int, help="customers for `keel score` (default: --rows; it is slow)"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    prepare(args.home, args.model_home, args.rows, args.days)

    import mlflow.pyfunc

    from keel.core.settings import Settings
    from registry.client import mlflow_client
    from registry.models import load_alias
    from serving.scoring import choose_scorer

    settings = Settings(home=args.home)
    model = load_alias(mlflow_client(settings), settings.model_name)
    kind = type(model.pipeline.steps[-1][1]).__name__
    print(f"champion v{model.version} ({kind}); {args.rows:,} customers as of {AS_OF:%Y-%m-%d}")

    keel_rows = args.keel_rows or args.rows
    keel_s, scores = run_keel_score(args.home, keel_rows)
    line(f"keel score, {keel_rows:,} (features+score+log+file)", keel_s, keel_rows)
    frame_s, frame = point_in_time_frame(args.home, args.rows)
    line("point-in-time frame (Feast, one call)", frame_s, len(frame))
    columns = model.feature_columns
    features = frame[columns].astype(
        {c: "float64" for c in columns if pd.api.types.is_integer_dtype(frame[c])}
    )  # as the signature says: integers as doubles (a served value may be missing)

    mlflow.set_tracking_uri(mlflow_client(settings).tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.model_name}@champion")
    started = time.perf_counter()
    pyfunc.predict(features)
    line("mlflow.pyfunc predict on the frame", time.perf_counter() - started, len(frame))

    scorer = choose_scorer(model.pipeline, columns).scorer
    started = time.perf_counter()
    rows = features.astype(object).where(features.notna(), None).to_dict("records")
    convert_s = time.perf_counter() - started
    started = time.perf_counter()
    fast = scorer(rows)
    fast_s = time.perf_counter() - started
    line("keel scorer on the frame (rows + score)", convert_s + fast_s, len(frame))
    line("  of which the scorer alone", fast_s, len(frame))

    truth = model.pipeline.predict_proba(features)[:, 1]
    print(f"keel scorer vs predict_proba: max diff {np.max(np.abs(fast - truth)):.2g}")
    scored = scores.sort_values("customer_id", ignore_index=True)["churn_probability"].to_numpy()
    truth = truth[: len(scored)]  # the first `keel_rows` customers, in the same order
    known = ~np.isnan(scored)
    print(
        f"keel score vs predict_proba: max diff {np.max(np.abs(scored[known] - truth[known])):.2g} "
        f"on {int(known.sum()):,} scored"
    )
    print(f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()

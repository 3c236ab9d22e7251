"""Scoring-runtime benchmark: each model kind through scikit-learn and through Keel's fast path,
and gradient boosting through the runtimes Keel weighed (Treelite, ONNX Runtime), in one process.

    KEEL_HOME=/tmp/keel-h8 python benchmarks/bench_scoring.py   # a demo workspace's champion data

The champion's training frame (its run's `datasets/training_frame.parquet`) is the data: every
classifier kind of `training.models` is fitted on it, then scored on its rows as serving sees
them (dicts, None for missing, plus unseen and missing categories). Per-row cost is the median
of many repetitions at batch 1 and batch 100; "max diff" is against the pipeline's
`predict_proba` on every row. The ONNX rows need `pip install -e '.[bench]'` (skipped otherwise).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

Rows = list[dict[str, Any]]
Fn = Callable[[Rows], Any]


def champion_data(label: str, settings: Any = None) -> tuple[pd.DataFrame, list[str]]:
    """The champion's training frame and feature columns, from the workspace of `settings`
    (default: the one in KEEL_HOME)."""
    from keel.core.settings import Settings
    from registry.client import mlflow_client
    from registry.models import load_alias

    settings = settings or Settings()
    client = mlflow_client(settings)
    model = load_alias(client, settings.model_name)
    run = client.get_run(model.run_id)
    logged_in = run.data.tags.get("mlflow.parentRunId", model.run_id)  # the frame: parent run
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(logged_in, "datasets/training_frame.parquet", tmp)
        frame = pd.read_parquet(path)
    return frame[[*model.feature_columns, label]], model.feature_columns


def serving_rows(frame: pd.DataFrame, categorical: list[str], seed: int = 1) -> Rows:
    """Rows as the online store gives them, with missing numbers and unseen/missing categories."""
    rng = np.random.default_rng(seed)
    rows: Rows = frame.astype(object).to_dict("records")
    numeric = [c for c in frame.columns if c not in categorical]
    for i, row in enumerate(rows):
        for name in numeric:
            value = row[name]
            if rng.random() < 0.03 or (isinstance(value, float) and math.isnan(value)):
                row[name] = None
        if categorical and i % 37 == 0:
            row[categorical[0]] = None
        if categorical and i % 41 == 5:
            row[categorical[-1]] = "never-seen"
    return rows


def per_row_us(fn: Fn, rows: Rows, batch: int, seconds: float) -> float:
    """Median microseconds per row of `fn` on batches of `batch` rows, over ~`seconds`."""
    sample = rows[:batch]
    fn(sample)
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 20:
        start = time.perf_counter()
        fn(sample)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6 / batch


def onnx_runtimes(pipeline: Any, columns: list[str], categorical: list[str]) -> dict[str, Fn]:
    """ONNX Runtime scorers of the pipeline (whole, and the trees alone on encoded rows). skl2onnx
    1.20 cannot convert HistGradientBoosting on this stack (a bool where ONNX wants ints): the
    converter is patched here to measure it at all. It also drops categorical splits."""
    try:
        import onnxruntime as ort
        import skl2onnx.common.tree_ensemble as tree_ensemble
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import (
            DoubleTensorType,
            FloatTensorType,
            StringTensorType,
        )
    except ImportError:
        print("ONNX Runtime / skl2onnx not installed: pip install -e '.[bench]' (rows skipped)")
        return {}
    add_node = tree_ensemble.add_node

    def patched(*args: Any, **kwargs: Any) -> Any:
        key = "nodes_missing_value_tracks_true"
        kwargs[key] = int(kwargs.get(key, 0))
        return add_node(*args, **kwargs)

    tree_ensemble.add_node = patched
    options = {id(pipeline[-1]): {"zipmap": False}}
    opsets = {"": 18, "ai.onnx.ml": 3}
    one = ort.SessionOptions()
    one.intra_op_num_threads = one.inter_op_num_threads = 1
    numeric = [c for c in columns if c not in categorical]
    types = [(c, StringTensorType([None, 1])) for c in categorical]
    types += [(c, DoubleTensorType([None, 1])) for c in numeric]
    whole = ort.InferenceSession(
        convert_sklearn(
            pipeline, initial_types=types, target_opset=opsets, options=options
        ).SerializeToString(),
        one,
        providers=["CPUExecutionProvider"],
    )

    def run_whole(rows: Rows) -> Any:
        feeds: dict[str, np.ndarray] = {
            c: np.array([[r.get(c) or ""] for r in rows], dtype=object) for c in categorical
        }
        for c in numeric:
            feeds[c] = np.array(
                [[np.nan if (v := r.get(c)) is None else v] for r in rows], dtype=np.float64
            )
        return whole.run(None, feeds)[1][:, 1]

    from serving.fast_trees import compile_trees

    keel = compile_trees(pipeline)
    assert keel is not None
    trees = pipeline[-1]
    width = [("X", FloatTensorType([None, trees.n_features_in_]))]
    alone = ort.InferenceSession(
        convert_sklearn(
            trees, initial_types=width, target_opset=opsets, options=options
        ).SerializeToString(),
        one,
        providers=["CPUExecutionProvider"],
    )

    def run_trees(rows: Rows) -> Any:
        return alone.run(None, {"X": keel.matrix(rows).astype(np.float32)})[1][:, 1]

    return {
        "ONNX Runtime, whole pipeline (skl2onnx, patched)": run_whole,
        "ONNX Runtime, trees only (float32) + Keel's encoding": run_trees,
    }


def batch_file(frame: pd.DataFrame, columns: list[str], n: int) -> None:
    """`keel score`'s scoring step on `n` rows against MLflow's pyfunc on the same frame/model."""
    import mlflow

    from keel.core.settings import Settings
    from registry.client import mlflow_client
    from registry.models import load_alias
    from serving.model_cache import ServedModel

    settings = Settings()
    client = mlflow_client(settings)
    mlflow.set_tracking_uri(client.tracking_uri)
    big = frame[columns].sample(n, replace=True, random_state=0).reset_index(drop=True)
    numeric = [c for c in columns if big[c].dtype != object]
    big[numeric] = big[numeric].astype("float64")  # the model signature's type
    served = ServedModel.of(load_alias(client, settings.model_name))
    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.model_name}@champion")
    start = time.perf_counter()
    pyfunc.predict(big)
    mlflow_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in big.astype(object).to_dict("records")
    ]
    convert_s = time.perf_counter() - start
    start = time.perf_counter()
    served.scorer(rows)
    score_s = time.perf_counter() - start
    print(f"{n:,} rows, champion v{served.model.version} ({served.scoring}):")
    print(f"  mlflow.pyfunc.load_model(...).predict(frame)  {n / mlflow_s:12,.0f} rows/s")
    print(f"  Keel: frame -> rows (None for missing)        {n / convert_s:12,.0f} rows/s")
    print(f"  Keel: fast path on those rows                 {n / score_s:12,.0f} rows/s")
    print(f"  Keel: both                                    {n / (convert_s + score_s):12,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="churned")
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per cell")
    parser.add_argument("--batch-rows", type=int, default=0, help="also time a file of N rows")
    args = parser.parse_args()
    os.environ.setdefault("KEEL_HOME", str(Path.cwd() / ".keel"))
    import treelite.gtil
    import treelite.sklearn

    from serving.fast_trees import compile_trees
    from serving.scoring import choose_scorer, pipeline_scorer
    from training.models import candidates

    frame, columns = champion_data(args.label)
    categorical = [c for c in columns if frame[c].dtype == object]
    rows = serving_rows(frame[columns], categorical)
    print(
        f"{len(rows)} rows, {len(columns)} features ({len(categorical)} categorical); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'model':22s} {'path':52s} {'batch 1 us/row':>15s} {'batch 100 us/row':>17s} "
        f"{'max diff':>9s}"
    )
    for kind, pipeline in candidates(columns, categorical=categorical):
        pipeline.fit(frame[columns], frame[args.label])
        sklearn = pipeline_scorer(pipeline, columns)
        expected = sklearn(rows)
        choice = choose_scorer(pipeline, columns)
        paths: dict[str, Fn] = {
            "scikit-learn predict_proba (DataFrame per call)": sklearn,
            f"Keel fast path ({choice.describe()})": choice.scorer,
        }
        if kind == "gradient_boosting":
            keel = compile_trees(pipeline)
            assert keel is not None
            trees = pipeline[-1]
            imported = treelite.sklearn.import_model(trees)
            paths["scikit-learn HGB on Keel's encoded rows"] = lambda r, k=keel, t=trees: (
                t.predict_proba(k.matrix(r))[:, 1]
            )
            paths["Treelite GTIL, 2 threads + Keel's encoding"] = lambda r, k=keel, m=imported: (
                treelite.gtil.predict(m, k.matrix(r), nthread=2).ravel()
            )
            paths |= onnx_runtimes(pipeline, columns, categorical)
        for path, fn in paths.items():
            diff = float(np.max(np.abs(np.asarray(fn(rows), dtype=float) - expected)))
            one = per_row_us(fn, rows, 1, args.seconds)
            hundred = per_row_us(fn, rows, 100, args.seconds)
            print(f"{kind:22s} {path[:52]:52s} {one:15.1f} {hundred:17.1f} {diff:9.1e}")
    if args.batch_rows:
        batch_file(frame, columns, args.batch_rows)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

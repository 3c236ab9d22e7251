"""`keel learning-curve`: on a binary model's Feast training frame, built as training builds it,
or on any labelled table."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from feature_repo.example import ENTITY_KEY, REQUEST_FIELD
from keel.core.errors import InvalidInput
from keel.core.input_files import Column, TableSchema, read_input
from keel.core.project import ModelSpec
from keel.core.settings import Settings
from keel.feast_plumbing.feature_store import open_store
from keel.feast_plumbing.project_checks import read_labels, service_schema
from registry.client import ensure_experiment, fluent_tracking, mlflow_client
from training import plots
from training.labels import TIMESTAMP
from training.learning_curve import (
    LearningCurve,
    PowerLaw,
    fit_power_law,
    learning_curve,
)
from training.model_frame import model_frame
from training.models import gradient_boosting, logistic_regression
from training.split import split_as_declared

MODELS: dict[str, Callable[..., Pipeline]] = {
    # Each takes the feature columns and `categorical=`, the columns it encodes.
    "logistic_regression": logistic_regression,
    "gradient_boosting": gradient_boosting,
}
ID_COLUMNS = (ENTITY_KEY, REQUEST_FIELD, TIMESTAMP)
"""Columns of a `--data` table that identify a row rather than describe it (the built-in
example's entity key and request field, and the snapshot time): never features."""


@dataclass(frozen=True)
class LabelledData:
    train: pd.DataFrame
    test: pd.DataFrame
    features: list[str]
    label: str
    source: str
    categorical: list[str]
    """Feature columns the models one-hot (or ordinal) encode."""


@dataclass(frozen=True)
class LearningCurveResult:
    curve: LearningCurve
    fit: PowerLaw | None
    target_pr_auc: float | None
    examples_needed: float | None
    run_id: str
    source: str


def model_data(settings: Settings, spec: ModelSpec) -> LabelledData:
    """The training frame of model `spec` of the workspace's Feast repo, built and split as
    training builds and splits it: training and validation rows train, the test rows test."""
    store = open_store(settings)
    service = service_schema(store, store.get_feature_service(spec.feature_service))
    data = model_frame(store, spec, service, read_labels(spec, service))
    split = split_as_declared(data.frame, spec.split)
    train = pd.concat([split.train, split.valid], ignore_index=True)
    source = "feast:" + spec.feature_service
    return LabelledData(train, split.test, data.features, data.label, source, data.categorical)


def _read_table(path: Path, target: str) -> pd.DataFrame:
    """`--data`: the 0/1 target; when present, the example's entity key (integers) and
    `event_timestamp` (zone-aware) identify a row, so each (entity, time) pair appears once."""
    schema = TableSchema(
        columns=(
            Column(target, "binary"),
            Column(ENTITY_KEY, "integer", required=False),
            Column(TIMESTAMP, "timestamp", required=False),
        ),
        unique=(ENTITY_KEY, TIMESTAMP),
    )
    return read_input(path, schema, role="--data")


def table_data(path: Path, *, target: str, seed: int = 0) -> LabelledData:
    """Any labelled table: split by time when it has `event_timestamp`, else stratified 80/20."""
    frame = _read_table(path, target)
    features = [c for c in frame.columns if c != target and c not in ID_COLUMNS]
    if TIMESTAMP in frame:
        cut = frame[TIMESTAMP].quantile(0.8)
        train, test = frame[frame[TIMESTAMP] <= cut], frame[frame[TIMESTAMP] > cut]
    else:
        rng = np.random.default_rng(seed)
        test_mask = np.zeros(len(frame), dtype=bool)
        for value in (0, 1):
            index = np.flatnonzero(frame[target].to_numpy() == value)
            test_mask[rng.choice(index, size=max(len(index) // 5, 1), replace=False)] = True
        train, test = frame[~test_mask], frame[test_mask]
    if test[target].nunique() < 2:
        raise InvalidInput(f"{path}: the held-out part has one class only; more rows are needed")
    text = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    return LabelledData(train, test, features, target, str(path), text)


def run_learning_curve(
    settings: Settings,
    *,
    sizes: list[int],
    repeats: int,
    model: str = "logistic_regression",
    data: Path | None = None,
    target: str | None = None,
    spec: ModelSpec | None = None,
    target_pr_auc: float | None = None,
    seed: int = 0,
    on_step: Callable[[str], None] | None = None,
) -> LearningCurveResult:
    """Run the curve on `data` (any labelled table, label column `target`) or on the Feast
    training frame of the binary model `spec`; fit the power law; log table and plot."""
    if model not in MODELS:
        raise InvalidInput(f"model must be one of {sorted(MODELS)}, got {model!r}")
    if data is not None:
        if target is None:
            raise InvalidInput(f"--target: name the label column of {data}")
        labelled = table_data(data, target=target, seed=seed)
    elif spec is not None:
        labelled = model_data(settings, spec)
    else:
        raise InvalidInput("give a labelled table (--data) or a binary model")
    curve = learning_curve(
        labelled.train,
        labelled.test,
        features=labelled.features,
        label=labelled.label,
        sizes=sizes,
        repeats=repeats,
        model=partial(MODELS[model], categorical=labelled.categorical),
        seed=seed,
        on_step=on_step,
    )
    summary = curve.summary()
    fit = None
    if len(summary) >= 3:
        fit = fit_power_law(
            summary["size"].tolist(),
            summary["pr_auc_mean"].tolist(),
            summary["pr_auc_std"].tolist(),
        )
    needed = fit.examples_for(target_pr_auc) if fit and target_pr_auc is not None else None
    client = mlflow_client(settings)
    with (
        fluent_tracking(client.tracking_uri),
        mlflow.start_run(
            experiment_id=ensure_experiment(settings, client), run_name="learning-curve"
        ) as run,
    ):
        mlflow.set_tags({"keel.kind": "learning_curve", "keel.data": labelled.source})
        mlflow.log_params({"sizes": ",".join(map(str, sizes)), "repeats": repeats, "model": model})
        for size, pr_auc, roc_auc in zip(
            summary["size"], summary["pr_auc_mean"], summary["roc_auc_mean"], strict=True
        ):
            mlflow.log_metric("pr_auc_mean", float(pr_auc), step=int(size))
            mlflow.log_metric("roc_auc_mean", float(roc_auc), step=int(size))
        if fit:
            mlflow.log_metrics(
                {"power_law_asymptote": fit.asymptote, "power_law_exponent": fit.exponent}
            )
        if needed is not None:
            mlflow.log_metric("examples_for_target_pr_auc", needed)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            summary.to_csv(out / "learning_curve.csv", index=False)
            fitted = None
            if fit:
                grid = np.geomspace(summary["size"].min(), summary["size"].max() * 10, 100)
                fitted = {"pr_auc": fit(grid)}
            plots.learning_curve(summary, out / "learning_curve.png", title=model, fitted=fitted)
            mlflow.log_artifacts(str(out), artifact_path="learning_curve")
    return LearningCurveResult(curve, fit, target_pr_auc, needed, run.info.run_id, labelled.source)

"""`keel train`: Feast point-in-time features -> baseline and logistic regression -> MLflow.

One parent run holds the dataset and Feast's lineage tags; each candidate is a nested run with
the same metrics on the same time split. The model version is registered, gated against the
baseline, and aliased `champion` only if it passes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from keel.feature_store import open_store
from keel.provenance import code_commit, read_manifest
from keel.settings import Settings
from keel.workspace import Workspace
from registry.client import ensure_experiment, mlflow_client
from registry.models import CHAMPION
from training.dataset import build_training_frame, load_snapshots
from training.evaluate import classification_metrics
from training.gate import GateDecision, baseline_gate
from training.labels import LABEL, SnapshotPlan
from training.models import SKOPS_TRUSTED_TYPES, baseline, logistic_regression
from training.plots import pr_curves
from training.split import split_by_time

MODEL_ARTIFACT = "model"


@dataclass(frozen=True)
class CandidateResult:
    name: str
    run_id: str
    valid: dict[str, float]
    test: dict[str, float]


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced, for the CLI to render and tests to check."""

    rows: dict[str, int]
    label_rate: float
    feature_columns: list[str]
    candidates: list[CandidateResult]
    parent_run_id: str
    model_version: str
    gate: GateDecision
    aliases: list[str] = field(default_factory=list)


def _ignore(_: str) -> None:
    return None


def _fit_and_log(
    name: str,
    estimator: Pipeline,
    split_frames: dict[str, pd.DataFrame],
    features: list[str],
    tags: dict[str, str],
) -> tuple[CandidateResult, dict[str, pd.Series]]:
    """Fit on train, score valid and test, log a nested run; returns the test scores too."""
    train = split_frames["train"]
    with mlflow.start_run(run_name=name, nested=True, tags={**tags, "keel.candidate": name}) as run:
        estimator.fit(train[features], train[LABEL])
        metrics: dict[str, dict[str, float]] = {}
        scores: dict[str, pd.Series] = {}
        for part in ("valid", "test"):
            frame = split_frames[part]
            scores[part] = pd.Series(estimator.predict_proba(frame[features])[:, 1])
            metrics[part] = classification_metrics(frame[LABEL], scores[part])
            mlflow.log_metrics({f"{part}_{k}": v for k, v in metrics[part].items()})
        mlflow.log_params({"estimator": name, **_estimator_params(estimator)})
    result = CandidateResult(name, run.info.run_id, metrics["valid"], metrics["test"])
    return result, scores


def _estimator_params(estimator: Pipeline) -> dict[str, str]:
    last = estimator.steps[-1][1]
    return {f"{type(last).__name__}.{k}": str(v) for k, v in last.get_params().items()}


def train(
    settings: Settings,
    *,
    plan: SnapshotPlan | None = None,
    gate_margin: float = 0.0,
    on_step: Callable[[str], None] = _ignore,
) -> TrainResult:
    """Train the baseline then logistic regression; register and gate the model version."""
    plan = plan or SnapshotPlan()
    workspace = Workspace.from_settings(settings)
    store = open_store(settings)
    client = mlflow_client(settings)
    experiment_id = ensure_experiment(settings, client)
    on_step("labelling snapshots")
    entities = load_snapshots(workspace.raw_dir, plan)
    tags = {"keel.code_commit": code_commit(), "keel.profile": settings.profile}
    manifest = read_manifest(workspace.raw_dir)
    if "seed" in manifest:
        tags["keel.generator_seed"] = str(manifest["seed"])

    with store.mlflow.start_run(
        run_name=f"{settings.model_name}-train", experiment_id=experiment_id, tags=tags
    ) as parent:
        on_step(f"point-in-time features for {len(entities):,} snapshots (Feast, DuckDB)")
        training = build_training_frame(store, entities, feature_service=settings.feature_service)
        features = training.feature_columns
        split = split_by_time(training.frame)
        frames = {"train": split.train, "valid": split.valid, "test": split.test}
        store.mlflow.log_training_dataset(
            training.frame, dataset_name=f"{settings.feature_service}-snapshots"
        )
        mlflow.log_params(
            {
                "horizon_days": plan.horizon_days,
                "step_days": plan.step_days,
                "feature_service": settings.feature_service,
                "gate_margin": gate_margin,
                **{f"rows_{k}": len(v) for k, v in frames.items()},
            }
        )
        feast_tags = {
            k: v
            for k, v in client.get_run(parent.info.run_id).data.tags.items()
            if k.startswith("feast.")
        }
        child_tags = {**tags, **feast_tags}

        on_step("baseline (prior rate)")
        base_result, base_scores = _fit_and_log(
            "baseline", baseline(), frames, features, child_tags
        )
        on_step("logistic regression")
        model = logistic_regression(features)
        model_result, model_scores = _fit_and_log(
            "logistic_regression", model, frames, features, child_tags
        )

        on_step("logging the model and plots")
        with mlflow.start_run(run_id=model_result.run_id, nested=True):
            # Integer features as doubles in the schema: a served value may be missing.
            example = (
                split.train[features]
                .head(5)
                .astype(
                    {
                        c: "float64"
                        for c in features
                        if pd.api.types.is_integer_dtype(split.train[c])
                    }
                )
            )
            signature = infer_signature(example, model.predict_proba(example)[:, 1])
            store.mlflow.log_model(
                model,
                MODEL_ARTIFACT,
                signature=signature,
                input_example=example,
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
            )
        with tempfile.TemporaryDirectory() as tmp:
            png = pr_curves(
                split.test[LABEL],
                {"baseline": base_scores["test"], "logistic regression": model_scores["test"]},
                Path(tmp) / "pr_curve_test.png",
                title="Precision-recall on the test snapshot",
            )
            mlflow.log_artifact(str(png), artifact_path="plots")

        on_step("registering and gating the model version")
        version = store.mlflow.register_model(
            f"runs:/{model_result.run_id}/{MODEL_ARTIFACT}", settings.model_name
        )
        gate = baseline_gate(
            model_result.test["pr_auc"], base_result.test["pr_auc"], margin=gate_margin
        )
        version_tags = {
            **gate.as_tags(),
            "keel.code_commit": tags["keel.code_commit"],
            "keel.training_run_id": parent.info.run_id,
            "keel.test_pr_auc": f"{model_result.test['pr_auc']:.6f}",
            "keel.test_roc_auc": f"{model_result.test['roc_auc']:.6f}",
            "keel.baseline_test_pr_auc": f"{base_result.test['pr_auc']:.6f}",
        }
        for key, value in version_tags.items():
            client.set_model_version_tag(settings.model_name, version.version, key, value)
        aliases = []
        if gate.passed:
            client.set_registered_model_alias(settings.model_name, CHAMPION, version.version)
            aliases.append(CHAMPION)

    return TrainResult(
        rows={k: len(v) for k, v in frames.items()},
        label_rate=float(training.frame[LABEL].mean()),
        feature_columns=features,
        candidates=[base_result, model_result],
        parent_run_id=parent.info.run_id,
        model_version=str(version.version),
        gate=gate,
        aliases=aliases,
    )

"""`keel train` for the built-in churn example: its label table + Feast point-in-time features
-> four candidates, simplest first -> MLflow.

The label table is a file the example writes (`synthetic.churn_labels`); training only reads it.
One parent run holds the dataset, the exact training frame and Feast's lineage tags; each
candidate is a nested run with the same metrics on the same time split. The best candidate on
validation is registered with its model spec (`registry.model_spec`, as keel.yaml models are);
it becomes `challenger` if it beats the no-model baseline, and
`champion` too only if it passes the whole gate (see `training.gate`).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import redirect_stderr
from dataclasses import dataclass, field

import mlflow
import pandas as pd
from sklearn.pipeline import Pipeline

from keel.backends import mlflow_tracking_uri
from keel.feature_store import open_store
from keel.project import CANDIDATES
from keel.project_checks import service_schema
from keel.provenance import code_commit, read_manifest
from keel.settings import Settings
from keel.workspace import Workspace
from monitoring.ageing import feature_service_growth
from monitoring.profile import build_reference_profile, log_reference_profile
from registry.client import ensure_experiment, fluent_tracking, mlflow_client
from registry.model_spec import SPEC_ARTIFACT, encode_spec, service_model_spec, spec_sha256
from training.dataset import build_training_frame, categorical_features
from training.evaluate import Threshold, choose_threshold, classification_metrics
from training.gate import GateDecision
from training.labels import TIMESTAMP, LabelTable, read_label_table
from training.models import candidates
from training.promotion import promote_if_gate_passes
from training.report import log_run_plots
from training.run_logging import MODEL_ARTIFACT, log_frame, log_pipeline
from training.scorer_artifact import log_compiled_scorer
from training.split import TimeSplit, shuffle_training_labels, split_by_time


@dataclass(frozen=True)
class TrainOptions:
    """Knobs of one training run."""

    gate_margin: float = 0.01
    class_weight: str | None = None
    fn_cost: float | None = None
    fp_cost: float | None = None
    shuffle_labels_seed: int | None = None
    """Sanity check: permute the training labels; the gate must then refuse the model."""
    force: bool = False
    """Make the new version `challenger` even if it loses to the baseline (recorded)."""
    candidates: tuple[str, ...] | None = None
    """The candidates to train beside the baseline (None: all of them)."""

    def __post_init__(self) -> None:
        if (self.fn_cost is None) != (self.fp_cost is None):
            raise ValueError("give both --fn-cost and --fp-cost, or neither")
        known = CANDIDATES["binary"]
        unknown = [c for c in self.candidates or () if c not in known]
        if unknown or self.candidates == ():
            raise ValueError(
                f"--candidates: expected one or more of {', '.join(known)}, got "
                f"{', '.join(unknown) or 'none'}"
            )
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")


@dataclass(frozen=True)
class CandidateResult:
    name: str
    run_id: str
    threshold: Threshold
    valid: dict[str, float]
    test: dict[str, float]


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced, for the CLI to render and tests to check."""

    rows: dict[str, int]
    label_rate: float
    feature_columns: list[str]
    candidates: list[CandidateResult]
    selected: str
    parent_run_id: str
    model_version: str
    gate: GateDecision
    aliases: list[str] = field(default_factory=list)


def _ignore(_: str) -> None:
    return None


def fit_binary_candidate(
    name: str,
    estimator: Pipeline,
    split: TimeSplit,
    features: list[str],
    lineage: dict[str, str],
    *,
    label: str,
    fn_cost: float | None = None,
    fp_cost: float | None = None,
) -> tuple[CandidateResult, pd.Series]:
    """Fit on train, choose the threshold on validation, measure valid and test in a nested run.

    `lineage` (Feast's and Keel's tags of the parent run) is copied onto the candidate's run:
    Feast's `log_model` and `register_model` read them from the run that holds the model.
    """
    tags = {**lineage, "keel.candidate": name}
    with mlflow.start_run(run_name=name, nested=True, tags=tags) as run:
        estimator.fit(split.train[features], split.train[label])
        valid_scores = estimator.predict_proba(split.valid[features])[:, 1]
        threshold = choose_threshold(
            split.valid[label], valid_scores, fn_cost=fn_cost, fp_cost=fp_cost
        )
        test_scores = pd.Series(estimator.predict_proba(split.test[features])[:, 1])
        valid = classification_metrics(split.valid[label], valid_scores, threshold=threshold.value)
        test = classification_metrics(split.test[label], test_scores, threshold=threshold.value)
        mlflow.log_metrics({f"valid_{k}": v for k, v in valid.items()})
        mlflow.log_metrics({f"test_{k}": v for k, v in test.items()})
        last = estimator.steps[-1][1]
        mlflow.log_params(
            {"estimator": type(last).__name__, "threshold_rule": threshold.rule}
            | {f"{type(last).__name__}.{k}": str(v) for k, v in last.get_params().items()}
        )
    return CandidateResult(name, run.info.run_id, threshold, valid, test), test_scores


def train(
    settings: Settings,
    labels: LabelTable,
    *,
    options: TrainOptions | None = None,
    on_step: Callable[[str], None] = _ignore,
) -> TrainResult:
    """Train every candidate on one time split of the `labels` rows; register, gate and alias
    the best one.

    MLflow's process-wide tracking URI and experiment are as they were when this returns."""
    options = options or TrainOptions()
    with fluent_tracking(mlflow_tracking_uri(settings)):  # no client yet: the store checks first
        return _train(settings, labels, options, on_step)


def _train(
    settings: Settings, labels: LabelTable, options: TrainOptions, on_step: Callable[[str], None]
) -> TrainResult:
    workspace = Workspace.from_settings(settings)
    store = open_store(settings)
    client = mlflow_client(settings)
    experiment_id = ensure_experiment(settings, client)
    entities = read_label_table(labels)
    label = labels.label
    tags = {"keel.code_commit": code_commit(), "keel.profile": settings.profile}
    manifest = read_manifest(workspace.raw_dir)
    if "seed" in manifest:
        tags["keel.generator_seed"] = str(manifest["seed"])

    with store.mlflow.start_run(
        run_name=f"{settings.model_name}-train", experiment_id=experiment_id, tags=tags
    ) as parent:
        # MLflow 3 files logged models under the fluent experiment, not the active run's:
        # without this they would land in `./mlruns/0` of the current directory.
        mlflow.set_experiment(experiment_id=experiment_id)
        on_step(f"point-in-time features for {len(entities):,} snapshots (Feast, DuckDB)")
        training = build_training_frame(store, entities, feature_service=settings.feature_service)
        features = training.feature_columns
        split = split_by_time(training.frame)
        if options.shuffle_labels_seed is not None:
            split = shuffle_training_labels(split, seed=options.shuffle_labels_seed, label=label)
            mlflow.set_tag("keel.shuffled_labels", "true")
        store.mlflow.log_training_dataset(
            training.frame, dataset_name=f"{settings.feature_service}-snapshots"
        )
        log_frame(training.frame)
        rows = {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)}
        mlflow.log_params(
            {
                **labels.params,
                "feature_service": settings.feature_service,
                "gate_margin": options.gate_margin,
                "class_weight": str(options.class_weight),
                **{f"rows_{k}": v for k, v in rows.items()},
            }
        )
        lineage = {
            k: v
            for k, v in client.get_run(parent.info.run_id).data.tags.items()
            if k.startswith(("feast.", "keel."))
        }
        results: list[CandidateResult] = []
        fitted: dict[str, Pipeline] = {}
        test_scores: dict[str, pd.Series] = {}
        categorical = categorical_features(store, settings.feature_service)
        to_fit = [
            (name, estimator)
            for name, estimator in candidates(
                features, categorical=categorical, class_weight=options.class_weight
            )
            if name == "baseline" or options.candidates is None or name in options.candidates
        ]
        for name, estimator in to_fit:
            on_step(f"candidate {name} ({len(results) + 1}/{len(to_fit)})")
            result, scores = fit_binary_candidate(
                name,
                estimator,
                split,
                features,
                lineage,
                label=label,
                fn_cost=options.fn_cost,
                fp_cost=options.fp_cost,
            )
            results.append(result)
            fitted[name] = estimator
            test_scores[name] = scores

        best = max(results[1:], key=lambda r: r.valid["pr_auc"])
        on_step(f"logging {best.name} (best on validation), its model spec and plots")
        service = service_schema(store, store.get_feature_service(settings.feature_service))
        spec = encode_spec(
            service_model_spec(settings.model_name, service, task="binary", label=label)
        )
        with mlflow.start_run(run_id=best.run_id, nested=True):
            log_pipeline(store.mlflow, fitted[best.name], split.train, features, probability=True)
            mlflow.log_text(spec.decode(), SPEC_ARTIFACT)
            # Monitoring's reference: this model's features and scores at the latest snapshot.
            # Early snapshots hold truncated 90-day windows (less history than serving sees),
            # so pooling every snapshot would flag drift on unchanged data.
            latest = training.frame[training.frame[TIMESTAMP] == training.frame[TIMESTAMP].max()]
            latest_scores = fitted[best.name].predict_proba(latest[features])[:, 1]
            growth = feature_service_growth(store, settings.feature_service)
            log_reference_profile(
                build_reference_profile(latest, features, latest_scores, grows_per_day=growth)
            )
        log_run_plots(
            split.test[label],
            {name: s.to_numpy() for name, s in test_scores.items()},
            selected=best.name,
            threshold=best.threshold.value,
            model=fitted[best.name],
            valid=split.valid[features],
            y_valid=split.valid[label],
        )
        mlflow.set_tag("keel.selected_candidate", best.name)

        on_step("registering, gating and aliasing the model version")
        # MLflow prints "Successfully registered model…" / "Created version…" to stderr itself;
        # Keel reports the version in its own summary.
        with redirect_stderr(io.StringIO()):
            version = store.mlflow.register_model(
                f"runs:/{best.run_id}/{MODEL_ARTIFACT}", settings.model_name
            )
        log_compiled_scorer(client, settings.model_name, str(version.version), fitted[best.name])
        gate, aliases = promote_if_gate_passes(
            settings,
            client,
            store=store,
            version=str(version.version),
            candidate=best,
            baseline=results[0],
            split=split,
            label=label,
            parent_run_id=parent.info.run_id,
            margin=options.gate_margin,
            spec_sha256=spec_sha256(spec),
            force=options.force,
        )

    return TrainResult(
        rows=rows,
        label_rate=float(training.frame[label].mean()),
        feature_columns=features,
        candidates=results,
        selected=best.name,
        parent_run_id=parent.info.run_id,
        model_version=str(version.version),
        gate=gate,
        aliases=aliases,
    )

"""`keel train`: one model spec, from its label table to a gated MLflow version.

The one training path, for keel.yaml models (`train_model`) and for the built-in churn example,
a model spec of the workspace's own Feast repo (`train_workspace_model`). The label table is
checked against the Feast registry (`keel.feast_plumbing.project_checks`); features come point in
time from
the model's feature service (`training.model_frame`); rows split as the spec declares
(`training.split`). One parent run holds the dataset, the exact training frame, the label
table's making and Feast's lineage tags; each candidate, simplest first, is a nested run with
the same metrics on validation and test (`training.candidate_fit`). The best on validation is
logged with its model spec, reference profile and plots, registered as the spec's `name`, and
gated (`training.promotion`): no alias when it loses to the best baseline, `challenger` when it
beats it but not the champion, `champion` too when it passes the gate.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import redirect_stderr
from dataclasses import dataclass, field

import mlflow
import numpy as np
import pandas as pd
from feast import FeatureStore
from sklearn.pipeline import Pipeline

from keel.core.project import ModelSpec, Project
from keel.core.provenance import code_commit
from keel.core.settings import Settings
from keel.feast_plumbing.project_checks import (
    ServiceSchema,
    check_model,
    read_labels,
    service_schema,
)
from monitoring.ageing import feature_service_growth
from monitoring.profile import build_reference_profile, log_reference_profile
from registry.client import ensure_experiment, fluent_tracking, mlflow_client
from registry.model_spec import (
    SPEC_ARTIFACT,
    TASK_TAG,
    encode_spec,
    service_model_spec,
    spec_sha256,
)
from training import regression
from training.candidate_fit import (
    BinaryCandidate,
    Candidate,
    fit_binary_candidate,
    fit_regression_candidate,
)
from training.gate import GateDecision
from training.labels import LabelTable
from training.model_frame import ModelFrame, model_frame
from training.models import candidates as binary_candidates
from training.promotion import GateInputs, gate_and_promote
from training.report import log_regression_plots, log_run_plots
from training.run_logging import (
    MODEL_ARTIFACT,
    feast_integration,
    log_dataset,
    log_frame,
    log_pipeline,
)
from training.scorer_artifact import log_compiled_scorer
from training.split import TimeSplit, shuffle_training_labels, split_as_declared
from training.train_options import ModelTrainOptions


@dataclass(frozen=True)
class ModelTrainResult:
    """What training a model produced, for the CLI to render and tests to check."""

    model: str
    task: str
    rows: dict[str, int]
    label_figure: float
    """The label's rate (binary) or mean (regression) over the training frame."""
    feature_columns: list[str]
    candidates: list[Candidate]
    selected: str
    parent_run_id: str
    model_version: str
    gate: GateDecision
    spec_sha256: str
    aliases: list[str] = field(default_factory=list)


def _ignore(_: str) -> None:
    return None


def train_model(
    settings: Settings,
    project: Project,
    name: str | None = None,
    *,
    options: ModelTrainOptions | None = None,
    on_step: Callable[[str], None] = _ignore,
) -> ModelTrainResult:
    """Train, register, gate and alias model `name` of `project` (default: its only model).
    MLflow's process-wide tracking URI and experiment are as they were when this returns."""
    from keel.feast_plumbing.project_checks import open_store

    options = options or ModelTrainOptions()
    spec = options.applied_to(project.model(name))
    on_step(f"checking {spec.name} against the Feast registry")
    store = open_store(project)
    summary = check_model(store, project, spec)
    labels = read_labels(spec, summary.service)
    made = LabelTable(path=spec.labels, label=spec.label)
    return _train(settings, store, spec, summary.service, labels, made, options, on_step)


def train_workspace_model(
    settings: Settings,
    spec: ModelSpec,
    *,
    made: LabelTable | None = None,
    options: ModelTrainOptions | None = None,
    on_step: Callable[[str], None] = _ignore,
) -> ModelTrainResult:
    """Train model `spec` of the workspace's own Feast repo (the built-in example's, opened
    with Keel's settings), as `train_model` trains a keel.yaml model. `made`: how its label
    table was made, logged with the run."""
    from keel.feast_plumbing.feature_store import open_store

    options = options or ModelTrainOptions()
    spec = options.applied_to(spec)
    store = open_store(settings)  # services first: one line naming a server that does not answer
    service = service_schema(store, store.get_feature_service(spec.feature_service))
    labels = read_labels(spec, service)
    made = made or LabelTable(path=spec.labels, label=spec.label)
    return _train(settings, store, spec, service, labels, made, options, on_step)


def _train(
    settings: Settings,
    store: FeatureStore,
    spec: ModelSpec,
    service: ServiceSchema,
    labels: pd.DataFrame,
    made: LabelTable,
    options: ModelTrainOptions,
    on_step: Callable[[str], None],
) -> ModelTrainResult:
    client = mlflow_client(settings)
    with fluent_tracking(client.tracking_uri):
        return _Run(settings, store, spec, service, options, made, on_step).train(labels)


class _Run:
    """One training run's state: the store, client, spec and what the candidates produced."""

    def __init__(
        self,
        settings: Settings,
        store: FeatureStore,
        spec: ModelSpec,
        service: ServiceSchema,
        options: ModelTrainOptions,
        made: LabelTable,
        on_step: Callable[[str], None],
    ) -> None:
        self.settings, self.store, self.spec, self.service = settings, store, spec, service
        self.options, self.made, self.on_step = options, made, on_step
        self.client = mlflow_client(settings)
        self.integration = feast_integration(store, self.client.tracking_uri)
        self.test_outputs: dict[str, np.ndarray] = {}
        """Each candidate's test-set probabilities of class 1 (binary) or predictions."""

    def train(self, labels: pd.DataFrame) -> ModelTrainResult:
        spec, settings = self.spec, self.settings
        experiment_id = ensure_experiment(
            settings, self.client, name=f"{settings.project}-{spec.name}"
        )
        tags = {
            "keel.code_commit": code_commit(),
            "keel.profile": settings.profile,
            "keel.model": spec.name,
            TASK_TAG: spec.task,
            **self.made.tags,
        }
        start = self.integration.start_run if self.integration else mlflow.start_run
        with start(run_name=f"{spec.name}-train", experiment_id=experiment_id, tags=tags) as parent:
            # MLflow 3 files logged models under the fluent experiment, not the active run's:
            # without this they would land in `./mlruns/0` of the current directory.
            mlflow.set_experiment(experiment_id=experiment_id)
            self.on_step(f"point-in-time features for {len(labels):,} {self.made.rows} (Feast)")
            data = model_frame(self.store, spec, self.service, labels)
            split = split_as_declared(data.frame, spec.split)
            if self.options.shuffle_labels_seed is not None:
                split = shuffle_training_labels(
                    split, seed=self.options.shuffle_labels_seed, label=data.label
                )
                mlflow.set_tag("keel.shuffled_labels", "true")
            self._log_inputs(data, split)
            lineage = {
                k: v
                for k, v in self.client.get_run(parent.info.run_id).data.tags.items()
                if k.startswith(("feast.", "keel."))
            }
            results, fitted = self._fit(data, split, lineage)
            best = self._best(results)
            self.on_step(f"logging {best.name} (best on validation), its model spec and plots")
            content = encode_spec(
                service_model_spec(spec.name, self.service, task=spec.task, label=spec.label)
            )
            self._log_plots(best, fitted[best.name], data, split)
            mlflow.set_tag("keel.selected_candidate", best.name)
            version = self._register(best, fitted[best.name], data, split, content)
            log_compiled_scorer(self.client, spec.name, version, fitted[best.name])
            self.on_step("gating and aliasing the model version")
            gate, aliases = gate_and_promote(
                settings,
                self.client,
                self.store,
                GateInputs(
                    name=spec.name,
                    feature_service=spec.feature_service,
                    task=spec.task,
                    version=version,
                    parent_run_id=parent.info.run_id,
                    margin=spec.gate_margin,
                    spec_sha256=spec_sha256(content),
                ),
                best=best,
                results=results,
                split=split,
                label=data.label,
                force=self.options.force,
            )
        return ModelTrainResult(
            model=spec.name,
            task=spec.task,
            rows={"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
            label_figure=float(data.frame[data.label].mean()),
            feature_columns=data.features,
            candidates=results,
            selected=best.name,
            parent_run_id=parent.info.run_id,
            model_version=version,
            gate=gate,
            spec_sha256=spec_sha256(content),
            aliases=aliases,
        )

    def _log_inputs(self, data: ModelFrame, split: TimeSplit) -> None:
        spec = self.spec
        log_dataset(self.integration, data.frame, name=f"{spec.feature_service}-{self.made.rows}")
        log_frame(data.frame)
        params: dict[str, object] = {
            **self.made.params,
            "feature_service": spec.feature_service,
            "labels": str(spec.labels),
            "label": spec.label,
            "task": spec.task,
            "gate_margin": spec.gate_margin,
            "rows_train": len(split.train),
            "rows_valid": len(split.valid),
            "rows_test": len(split.test),
        }
        if spec.task == "binary":
            params["class_weight"] = str(self.options.class_weight)
        mlflow.log_params(params)

    def _fit(
        self, data: ModelFrame, split: TimeSplit, lineage: dict[str, str]
    ) -> tuple[list[Candidate], dict[str, Pipeline]]:
        """Every chosen candidate of the task, simplest first, each in its nested run."""
        spec, chosen = self.spec, self.spec.candidate_names
        if spec.task == "binary":
            every = binary_candidates(
                data.features, categorical=data.categorical, class_weight=self.options.class_weight
            )
            to_fit = [(n, p) for n, p in every if n in chosen]
        else:
            to_fit = regression.candidates(
                data.features, categorical=data.categorical, chosen=chosen
            )
        results: list[Candidate] = []
        fitted: dict[str, Pipeline] = {}
        for name, estimator in to_fit:
            self.on_step(f"candidate {name} ({len(results) + 1}/{len(to_fit)})")
            result: Candidate
            if spec.task == "binary":
                result, outputs = fit_binary_candidate(
                    name,
                    estimator,
                    split,
                    data.features,
                    lineage,
                    label=data.label,
                    fn_cost=spec.fn_cost,
                    fp_cost=spec.fp_cost,
                )
            else:
                result, outputs = fit_regression_candidate(
                    name, estimator, split, data.features, lineage, label=data.label
                )
            results.append(result)
            fitted[name] = estimator
            self.test_outputs[name] = outputs
        return results, fitted

    def _best(self, results: list[Candidate]) -> Candidate:
        """The best on validation of the candidates that are not baselines."""
        if self.spec.task == "binary":
            return max(results[1:], key=lambda r: r.valid["pr_auc"])
        models = [r for r in results if r.name not in regression.BASELINES]
        return min(models, key=lambda r: r.valid["mae"])

    def _register(
        self, best: Candidate, model: Pipeline, data: ModelFrame, split: TimeSplit, content: bytes
    ) -> str:
        """The registration step: the model, its spec and reference profile logged to the
        best candidate's run, then that run's model registered as the spec's `name`."""
        self.on_step("registering the model version")
        with mlflow.start_run(run_id=best.run_id, nested=True):
            log_pipeline(
                self.integration,
                model,
                split.train,
                data.features,
                probability=self.spec.task == "binary",
            )
            mlflow.log_text(content.decode(), SPEC_ARTIFACT)
            self._log_reference_profile(model, data, split)
        uri = f"runs:/{best.run_id}/{MODEL_ARTIFACT}"
        register = self.integration.register_model if self.integration else mlflow.register_model
        # MLflow prints "Successfully registered model…" to stderr; Keel reports it itself.
        with redirect_stderr(io.StringIO()):
            version = register(uri, self.spec.name)
        return str(version.version)

    def _scores(self, model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
        """What the model serves: the probability of class 1, or the prediction."""
        if self.spec.task == "binary":
            return np.asarray(model.predict_proba(frame)[:, 1], dtype=float)
        return np.asarray(model.predict(frame), dtype=float)

    def _log_reference_profile(self, model: Pipeline, data: ModelFrame, split: TimeSplit) -> None:
        """Monitoring's reference, logged to the active (the model's) run: the features and
        the model's scores (regression: its predictions) on the rows it was not fitted on,
        validation and test. Split by snapshots, the last snapshot only: earlier snapshots of
        a windowed feature hold truncated windows (less history than serving sees), so pooling
        them would flag drift on unchanged data."""
        if self.spec.split.by == "snapshots":
            rows = split.test
        else:
            rows = pd.concat([split.valid, split.test], ignore_index=True)
        growth = feature_service_growth(self.store, self.spec.feature_service)
        log_reference_profile(
            build_reference_profile(
                rows, data.features, self._scores(model, rows[data.features]), grows_per_day=growth
            )
        )

    def _log_plots(
        self, best: Candidate, model: Pipeline, data: ModelFrame, split: TimeSplit
    ) -> None:
        """The task's diagnostic plots, logged to the parent run under `plots/`."""
        y_test, valid, y_valid = (
            split.test[data.label],
            split.valid[data.features],
            split.valid[data.label],
        )
        if isinstance(best, BinaryCandidate):
            log_run_plots(
                y_test,
                self.test_outputs,
                selected=best.name,
                threshold=best.threshold.value,
                model=model,
                valid=valid,
                y_valid=y_valid,
            )
        else:
            log_regression_plots(
                y_test,
                self.test_outputs,
                selected=best.name,
                model=model,
                valid=valid,
                y_valid=y_valid,
            )

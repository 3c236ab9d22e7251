"""`keel train NAME`: one model of keel.yaml, from its label table to a gated MLflow version.

The label table is checked against the Feast registry first (`keel.project_checks`); features
come point in time from the model's feature service (`training.model_frame`); rows split by time
with the model's fractions. Candidates run simplest first, each in a nested run with the same
metrics on validation and test: binary as the churn example (`training.train`), regression from
`training.regression`. The best on validation is registered as the model's `name` with its model
spec (`registry.model_spec`) and gated: no alias when it loses to the best baseline,
`challenger` when it beats it but not the champion, `champion` too when it passes the gate.
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

from keel.project import ModelSpec, Project
from keel.project_checks import ModelSummary, check_model, open_store, read_labels
from keel.provenance import code_commit
from keel.settings import Settings
from monitoring.ageing import feature_service_growth
from monitoring.profile import build_reference_profile, log_reference_profile
from registry.client import ensure_experiment, fluent_tracking, mlflow_client
from registry.lineage import feature_definitions_hash
from registry.model_spec import (
    SPEC_ARTIFACT,
    SPEC_HASH_TAG,
    TASK_TAG,
    encode_spec,
    model_spec,
    spec_sha256,
)
from training import regression
from training.gate import GateDecision, promotion_gate, regression_gate
from training.model_frame import ModelFrame, build_model_frame
from training.models import candidates as binary_candidates
from training.promotion import champion_mae, champion_pr_auc, record_gate_and_move_aliases
from training.report import log_regression_plots, log_run_plots
from training.run_logging import (
    MODEL_ARTIFACT,
    feast_integration,
    log_dataset,
    log_frame,
    log_pipeline,
)
from training.scorer_artifact import log_compiled_scorer
from training.split import TimeSplit, shuffle_training_labels, split_by_fractions
from training.train import CandidateResult, fit_binary_candidate


@dataclass(frozen=True)
class ModelTrainOptions:
    """Overrides of keel.yaml for one run (None: the model's own setting)."""

    gate_margin: float | None = None
    fn_cost: float | None = None
    fp_cost: float | None = None
    shuffle_labels_seed: int | None = None
    """Sanity check: permute the training labels; the gate must then refuse the model."""
    force: bool = False
    """Make the new version `challenger` even if it loses to the baseline (recorded)."""

    def __post_init__(self) -> None:
        if (self.fn_cost is None) != (self.fp_cost is None):
            raise ValueError("give both --fn-cost and --fp-cost, or neither")


@dataclass(frozen=True)
class RegressionCandidate:
    name: str
    run_id: str
    valid: dict[str, float]
    test: dict[str, float]


Candidate = CandidateResult | RegressionCandidate


@dataclass(frozen=True)
class ModelTrainResult:
    """What training a keel.yaml model produced, for the CLI to render and tests to check."""

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
    options = options or ModelTrainOptions()
    spec = project.model(name)
    on_step(f"checking {spec.name} against the Feast registry")
    store = open_store(project)
    summary = check_model(store, project, spec)
    labels = read_labels(spec, summary.service)
    client = mlflow_client(settings)
    with fluent_tracking(client.tracking_uri):
        return _Run(settings, store, spec, options, on_step).train(summary, labels)


class _Run:
    """One training run's state: the store, client, run ids and what the candidates produced."""

    def __init__(
        self,
        settings: Settings,
        store: FeatureStore,
        spec: ModelSpec,
        options: ModelTrainOptions,
        on_step: Callable[[str], None],
    ) -> None:
        self.settings, self.store, self.spec, self.options = settings, store, spec, options
        self.on_step = on_step
        self.client = mlflow_client(settings)
        self.integration = feast_integration(store, self.client.tracking_uri)
        self.margin = spec.gate_margin if options.gate_margin is None else options.gate_margin
        self.test_outputs: dict[str, np.ndarray] = {}
        """Each candidate's test-set probabilities of class 1 (binary) or predictions."""

    def train(self, summary: ModelSummary, labels: pd.DataFrame) -> ModelTrainResult:
        spec = self.spec
        experiment_id = ensure_experiment(
            self.settings, self.client, name=f"{self.settings.project}-{spec.name}"
        )
        tags = {"keel.code_commit": code_commit(), "keel.model": spec.name, TASK_TAG: spec.task}
        start = self.integration.start_run if self.integration else mlflow.start_run
        with start(run_name=f"{spec.name}-train", experiment_id=experiment_id, tags=tags) as parent:
            # MLflow 3 files logged models under the fluent experiment, not the active run's.
            mlflow.set_experiment(experiment_id=experiment_id)
            self.on_step(f"point-in-time features for {len(labels):,} label rows (Feast)")
            data = build_model_frame(self.store, summary, labels)
            split = split_by_fractions(
                data.frame,
                timestamp="event_timestamp",
                train=spec.split.train,
                valid=spec.split.valid,
            )
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
            if spec.task == "binary":
                results, fitted = self._fit_binary(data, split, lineage)
                best = max(results[1:], key=lambda r: r.valid["pr_auc"])
            else:
                results, fitted = self._fit_regression(data, split, lineage)
                best = min(
                    (r for r in results if r.name not in regression.BASELINES),
                    key=lambda r: r.valid["mae"],
                )
            self.on_step(f"logging {best.name} (best on validation), its model spec and plots")
            content = encode_spec(model_spec(summary))
            with mlflow.start_run(run_id=best.run_id, nested=True):
                log_pipeline(
                    self.integration,
                    fitted[best.name],
                    split.train,
                    data.features,
                    probability=spec.task == "binary",
                )
                mlflow.log_text(content.decode(), SPEC_ARTIFACT)
                self._log_reference_profile(fitted[best.name], data, split)
            self._log_plots(best, fitted[best.name], data, split)
            mlflow.set_tag("keel.selected_candidate", best.name)
            self.on_step("registering, gating and aliasing the model version")
            version = self._register(best.run_id)
            log_compiled_scorer(self.client, spec.name, version, fitted[best.name])
            gate, aliases = self._gate(
                version, best, results, split, data, parent.info.run_id, spec_sha256(content)
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
        log_dataset(self.integration, data.frame, name=f"{self.spec.feature_service}-labels")
        log_frame(data.frame)
        mlflow.log_params(
            {
                "feature_service": self.spec.feature_service,
                "labels": str(self.spec.labels),
                "label": self.spec.label,
                "task": self.spec.task,
                "gate_margin": self.margin,
                "rows_train": len(split.train),
                "rows_valid": len(split.valid),
                "rows_test": len(split.test),
            }
        )

    def _scores(self, model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
        """What the model serves: the probability of class 1, or the prediction."""
        if self.spec.task == "binary":
            return np.asarray(model.predict_proba(frame)[:, 1], dtype=float)
        return np.asarray(model.predict(frame), dtype=float)

    def _log_reference_profile(self, model: Pipeline, data: ModelFrame, split: TimeSplit) -> None:
        """Monitoring's reference, logged to the active (the model's) run: the features and
        the model's scores (regression: its predictions) on the rows it was not fitted on,
        validation and test, the latest of the label table."""
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
        if isinstance(best, CandidateResult):
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

    def _fit_binary(
        self, data: ModelFrame, split: TimeSplit, lineage: dict[str, str]
    ) -> tuple[list[Candidate], dict[str, Pipeline]]:
        fn_cost = self.options.fn_cost if self.options.fn_cost is not None else self.spec.fn_cost
        fp_cost = self.options.fp_cost if self.options.fp_cost is not None else self.spec.fp_cost
        chosen = self.spec.candidate_names
        to_fit = [
            (n, p)
            for n, p in binary_candidates(data.features, categorical=data.categorical)
            if n in chosen
        ]
        results: list[Candidate] = []
        fitted: dict[str, Pipeline] = {}
        for name, estimator in to_fit:
            self.on_step(f"candidate {name} ({len(results) + 1}/{len(to_fit)})")
            result, scores = fit_binary_candidate(
                name,
                estimator,
                split,
                data.features,
                lineage,
                label=data.label,
                fn_cost=fn_cost,
                fp_cost=fp_cost,
            )
            results.append(result)
            fitted[name] = estimator
            self.test_outputs[name] = scores.to_numpy()
        return results, fitted

    def _fit_regression(
        self, data: ModelFrame, split: TimeSplit, lineage: dict[str, str]
    ) -> tuple[list[Candidate], dict[str, Pipeline]]:
        to_fit = regression.candidates(
            data.features, categorical=data.categorical, chosen=self.spec.candidate_names
        )
        results: list[Candidate] = []
        fitted: dict[str, Pipeline] = {}
        x_train, y_train = split.train[data.features], split.train[data.label]
        for name, estimator in to_fit:
            self.on_step(f"candidate {name} ({len(results) + 1}/{len(to_fit)})")
            with mlflow.start_run(
                run_name=name, nested=True, tags={**lineage, "keel.candidate": name}
            ) as run:
                estimator.fit(x_train, y_train)
                valid = regression.regression_metrics(
                    split.valid[data.label], estimator.predict(split.valid[data.features])
                )
                predicted = np.asarray(estimator.predict(split.test[data.features]), dtype=float)
                test = regression.regression_metrics(split.test[data.label], predicted)
                mlflow.log_metrics({f"valid_{k}": v for k, v in valid.items()})
                mlflow.log_metrics({f"test_{k}": v for k, v in test.items()})
                last = estimator.steps[-1][1]
                mlflow.log_params(
                    {"estimator": type(last).__name__}
                    | {f"{type(last).__name__}.{k}": str(v) for k, v in last.get_params().items()}
                )
            results.append(RegressionCandidate(name, run.info.run_id, valid, test))
            fitted[name] = estimator
            self.test_outputs[name] = predicted
        return results, fitted

    def _register(self, run_id: str) -> str:
        uri = f"runs:/{run_id}/{MODEL_ARTIFACT}"
        register = self.integration.register_model if self.integration else mlflow.register_model
        # MLflow prints "Successfully registered model…" to stderr; Keel reports it itself.
        with redirect_stderr(io.StringIO()):
            version = register(uri, self.spec.name)
        return str(version.version)

    def _gate(
        self,
        version: str,
        best: Candidate,
        results: list[Candidate],
        split: TimeSplit,
        data: ModelFrame,
        parent_run_id: str,
        spec_hash: str,
    ) -> tuple[GateDecision, list[str]]:
        spec, name = self.spec, self.spec.name
        tags = {
            "keel.candidate": best.name,
            "keel.training_run_id": parent_run_id,
            "keel.gate_margin": f"{self.margin:g}",
            "keel.feature_service": spec.feature_service,
            "keel.feature_definitions_hash": feature_definitions_hash(
                self.store, spec.feature_service
            ),
            SPEC_HASH_TAG: spec_hash,
            TASK_TAG: spec.task,
        }
        if isinstance(best, CandidateResult):
            baseline = results[0]
            champion_version, champion = champion_pr_auc(
                self.client, name, split, new_version=version, label=data.label
            )
            gate = promotion_gate(
                best.test["pr_auc"],
                baseline.test["pr_auc"],
                champion_pr_auc=champion,
                margin=self.margin,
            )
            tags |= {
                "keel.threshold": f"{best.threshold.value:.10g}",
                "keel.threshold_rule": best.threshold.rule,
                "keel.test_pr_auc": f"{best.test['pr_auc']:.6f}",
                "keel.test_roc_auc": f"{best.test['roc_auc']:.6f}",
                "keel.baseline_test_pr_auc": f"{baseline.test['pr_auc']:.6f}",
            }
            metric = "pr_auc"
        else:
            baselines = [r for r in results if r.name in regression.BASELINES]
            baseline = min(baselines, key=lambda r: r.test["mae"])
            champion_version, champion = champion_mae(
                self.client, name, split, new_version=version, label=data.label
            )
            gate = regression_gate(
                best.test["mae"], baseline.test["mae"], champion_mae=champion, margin=self.margin
            )
            tags |= {
                "keel.test_mae": f"{best.test['mae']:.6g}",
                "keel.test_rmse": f"{best.test['rmse']:.6g}",
                "keel.test_r2": f"{best.test['r2']:.6f}",
                "keel.gate_baseline_candidate": baseline.name,
                "keel.baseline_test_mae": f"{baseline.test['mae']:.6g}",
            }
            metric = "mae"
        if champion_version is not None:
            tags["keel.gate_champion_version"] = champion_version
        if champion is not None:
            tags[f"keel.gate_champion_test_{metric}"] = f"{champion:.6g}"
        moved = record_gate_and_move_aliases(
            self.settings,
            self.client,
            name=name,
            version=version,
            gate=gate,
            tags=tags,
            parent_run_id=parent_run_id,
            force=self.options.force,
        )
        return gate, moved

"""After registration: gate the new version, record why on the version, move its aliases.

A version that loses to the no-model baseline gets no serving alias (see `training.gate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from feast import FeatureStore
from mlflow import MlflowClient
from sklearn.metrics import average_precision_score, mean_absolute_error

from keel.core.errors import ModelNotFound
from keel.core.settings import Settings
from registry.aliases import move_alias
from registry.lineage import feature_definitions_hash
from registry.model_spec import SPEC_HASH_TAG, TASK_TAG
from registry.models import CHAMPION, LoadedModel, load_alias
from training import regression
from training.candidate_fit import BinaryCandidate, Candidate
from training.gate import GateDecision, promotion_gate, regression_gate
from training.split import TimeSplit

CHALLENGER = "challenger"
FORCED_TAG = "keel.forced_alias"
"""Set on a version that `keel train --force` aliased although it lost to the baseline."""
FORCED_BY_TAG = "keel.forced_by"


def champion_model(
    client: MlflowClient, name: str, split: TimeSplit, *, new_version: str
) -> tuple[str | None, LoadedModel | None]:
    """The current champion's version, and its model if it can be scored on this test set."""
    try:
        champion = load_alias(client, name, CHAMPION)
    except ModelNotFound:
        return None, None
    if champion.version == new_version or not set(champion.feature_columns) <= set(split.test):
        return champion.version, None
    return champion.version, champion


def champion_pr_auc(
    client: MlflowClient, name: str, split: TimeSplit, *, new_version: str, label: str
) -> tuple[str | None, float | None]:
    """The current champion's PR AUC on this run's test set, if it can be scored on it."""
    version, champion = champion_model(client, name, split, new_version=new_version)
    if champion is None:
        return version, None
    scores = champion.pipeline.predict_proba(split.test[champion.feature_columns])[:, 1]
    return version, float(average_precision_score(split.test[label], scores))


def champion_mae(
    client: MlflowClient, name: str, split: TimeSplit, *, new_version: str, label: str
) -> tuple[str | None, float | None]:
    """The current champion's MAE on this run's test set, if it can be scored on it."""
    version, champion = champion_model(client, name, split, new_version=new_version)
    if champion is None:
        return version, None
    predicted = champion.pipeline.predict(split.test[champion.feature_columns])
    return version, float(mean_absolute_error(split.test[label], predicted))


def _move_alias(
    settings: Settings, name: str, alias: str, version: str, reason: str, *, force: bool = False
) -> str:
    """An audited alias move (history row and alias change in one transaction); the actor."""
    move = move_alias(
        settings, name=name, alias=alias, version=version, reason=reason, actor=None, force=force
    )
    return move.actor


def record_gate_and_move_aliases(
    settings: Settings,
    client: MlflowClient,
    *,
    name: str,
    version: str,
    gate: GateDecision,
    tags: dict[str, str],
    parent_run_id: str,
    force: bool = False,
) -> list[str]:
    """Tag the version with the gate's decision and `tags`, and move its aliases: `challenger`
    if it beats the baseline, and `champion` too if it passes the whole gate. One that loses to
    the baseline gets no alias, unless `force` makes it `challenger` (recorded in the alias
    history and as version tags). Returns the aliases moved."""
    for key, value in {**gate.as_tags(), **tags}.items():
        client.set_model_version_tag(name, version, key, value)
    if not gate.beats_baseline and not force:
        return []
    trained = f"keel train: new version from run {parent_run_id}"
    if gate.beats_baseline:
        _move_alias(settings, name, CHALLENGER, version, trained)
    else:
        reason = f"{trained}, forced (--force) although it loses to the baseline: {gate.reason}"
        actor = _move_alias(settings, name, CHALLENGER, version, reason, force=True)
        client.set_model_version_tag(name, version, FORCED_TAG, CHALLENGER)
        client.set_model_version_tag(name, version, FORCED_BY_TAG, actor)
    moved = [CHALLENGER]
    if gate.passed:
        _move_alias(settings, name, CHAMPION, version, f"keel train: gate passed: {gate.reason}")
        moved.append(CHAMPION)
    return moved


@dataclass(frozen=True)
class GateInputs:
    """What the gate of a new version compares, and what is recorded with it."""

    name: str
    feature_service: str
    task: str
    version: str
    parent_run_id: str
    margin: float
    spec_sha256: str


def gate_and_promote(
    settings: Settings,
    client: MlflowClient,
    store: FeatureStore,
    gate_on: GateInputs,
    *,
    best: Candidate,
    results: list[Candidate],
    split: TimeSplit,
    label: str,
    force: bool = False,
) -> tuple[GateDecision, list[str]]:
    """Gate the new version on its task's test metric (binary: PR AUC over the baseline's;
    regression: MAE under the best baseline's), against the champion's on the same test set;
    record the decision, its inputs and the model spec's hash on the version; move aliases
    (see `record_gate_and_move_aliases`)."""
    tags = {
        "keel.candidate": best.name,
        "keel.training_run_id": gate_on.parent_run_id,
        "keel.gate_margin": f"{gate_on.margin:g}",
        "keel.feature_service": gate_on.feature_service,
        "keel.feature_definitions_hash": feature_definitions_hash(store, gate_on.feature_service),
        SPEC_HASH_TAG: gate_on.spec_sha256,
        TASK_TAG: gate_on.task,
    }
    if isinstance(best, BinaryCandidate):
        gate, champion_version, champion, more = _binary_gate(
            client, gate_on, best, results[0], split, label
        )
    else:
        gate, champion_version, champion, more = _regression_gate(
            client, gate_on, best, results, split, label
        )
    tags |= more
    if champion_version is not None:
        tags["keel.gate_champion_version"] = champion_version
    if champion is not None:
        metric, form = ("pr_auc", ".6f") if isinstance(best, BinaryCandidate) else ("mae", ".6g")
        tags[f"keel.gate_champion_test_{metric}"] = format(champion, form)
    moved = record_gate_and_move_aliases(
        settings,
        client,
        name=gate_on.name,
        version=gate_on.version,
        gate=gate,
        tags=tags,
        parent_run_id=gate_on.parent_run_id,
        force=force,
    )
    return gate, moved


_Gated = tuple[GateDecision, str | None, float | None, dict[str, str]]


def _binary_gate(
    client: MlflowClient,
    gate_on: GateInputs,
    best: BinaryCandidate,
    baseline: Candidate,
    split: TimeSplit,
    label: str,
) -> _Gated:
    champion_version, champion = champion_pr_auc(
        client, gate_on.name, split, new_version=gate_on.version, label=label
    )
    gate = promotion_gate(
        best.test["pr_auc"],
        baseline.test["pr_auc"],
        champion_pr_auc=champion,
        margin=gate_on.margin,
    )
    tags = {
        "keel.threshold": f"{best.threshold.value:.10g}",
        "keel.threshold_rule": best.threshold.rule,
        "keel.test_pr_auc": f"{best.test['pr_auc']:.6f}",
        "keel.test_roc_auc": f"{best.test['roc_auc']:.6f}",
        "keel.baseline_test_pr_auc": f"{baseline.test['pr_auc']:.6f}",
    }
    return gate, champion_version, champion, tags


def _regression_gate(
    client: MlflowClient,
    gate_on: GateInputs,
    best: Candidate,
    results: list[Candidate],
    split: TimeSplit,
    label: str,
) -> _Gated:
    baselines = [r for r in results if r.name in regression.BASELINES]
    baseline = min(baselines, key=lambda r: r.test["mae"])
    champion_version, champion = champion_mae(
        client, gate_on.name, split, new_version=gate_on.version, label=label
    )
    gate = regression_gate(
        best.test["mae"], baseline.test["mae"], champion_mae=champion, margin=gate_on.margin
    )
    tags = {
        "keel.test_mae": f"{best.test['mae']:.6g}",
        "keel.test_rmse": f"{best.test['rmse']:.6g}",
        "keel.test_r2": f"{best.test['r2']:.6f}",
        "keel.gate_baseline_candidate": baseline.name,
        "keel.baseline_test_mae": f"{baseline.test['mae']:.6g}",
    }
    return gate, champion_version, champion, tags

"""After registration: gate the new version, record why on the version, move its aliases.

A version that loses to the no-model baseline gets no serving alias (see `training.gate`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from feast import FeatureStore
from mlflow import MlflowClient
from sklearn.metrics import average_precision_score

from keel.errors import ModelNotFound
from keel.settings import Settings
from registry.aliases import move_alias
from registry.lineage import feature_definitions_hash
from registry.models import CHAMPION, load_alias
from training.gate import GateDecision, promotion_gate
from training.labels import LABEL
from training.split import TimeSplit

if TYPE_CHECKING:
    from training.train import CandidateResult

CHALLENGER = "challenger"
FORCED_TAG = "keel.forced_alias"
"""Set on a version that `keel train --force` aliased although it lost to the baseline."""
FORCED_BY_TAG = "keel.forced_by"


def champion_pr_auc(
    client: MlflowClient, name: str, split: TimeSplit, *, new_version: str
) -> tuple[str | None, float | None]:
    """The current champion's PR AUC on this run's test set, if it can be scored on it."""
    try:
        champion = load_alias(client, name, CHAMPION)
    except ModelNotFound:
        return None, None
    if champion.version == new_version or not set(champion.feature_columns) <= set(split.test):
        return champion.version, None
    scores = champion.pipeline.predict_proba(split.test[champion.feature_columns])[:, 1]
    return champion.version, float(average_precision_score(split.test[LABEL], scores))


def _move_alias(
    settings: Settings, alias: str, version: str, reason: str, *, force: bool = False
) -> str:
    """An audited alias move (history row and alias change in one transaction); the actor."""
    move = move_alias(
        settings,
        name=settings.model_name,
        alias=alias,
        version=version,
        reason=reason,
        actor=None,
        force=force,
    )
    return move.actor


def promote_if_gate_passes(
    settings: Settings,
    client: MlflowClient,
    *,
    store: FeatureStore,
    version: str,
    candidate: CandidateResult,
    baseline: CandidateResult,
    split: TimeSplit,
    parent_run_id: str,
    margin: float,
    force: bool = False,
) -> tuple[GateDecision, list[str]]:
    """Tag the version with the gate's inputs and decision and move its aliases: `challenger`
    if it beats the baseline, and `champion` too if it passes the whole gate. One that loses to
    the baseline gets no alias, unless `force` makes it `challenger` (recorded in the alias
    history and as version tags). Returns the decision and the aliases moved."""
    champion_version, champion_score = champion_pr_auc(
        client, settings.model_name, split, new_version=version
    )
    gate = promotion_gate(
        candidate.test["pr_auc"],
        baseline.test["pr_auc"],
        champion_pr_auc=champion_score,
        margin=margin,
    )
    tags = {
        **gate.as_tags(),
        "keel.candidate": candidate.name,
        "keel.threshold": f"{candidate.threshold.value:.10g}",
        "keel.threshold_rule": candidate.threshold.rule,
        "keel.training_run_id": parent_run_id,
        "keel.gate_margin": f"{margin:g}",
        "keel.test_pr_auc": f"{candidate.test['pr_auc']:.6f}",
        "keel.test_roc_auc": f"{candidate.test['roc_auc']:.6f}",
        "keel.baseline_test_pr_auc": f"{baseline.test['pr_auc']:.6f}",
        "keel.feature_service": settings.feature_service,
        "keel.feature_definitions_hash": feature_definitions_hash(store, settings.feature_service),
    }
    if champion_version is not None:
        tags["keel.gate_champion_version"] = champion_version
    if champion_score is not None:
        tags["keel.gate_champion_test_pr_auc"] = f"{champion_score:.6f}"
    for key, value in tags.items():
        client.set_model_version_tag(settings.model_name, version, key, value)
    if not gate.beats_baseline and not force:
        return gate, []
    trained = f"keel train: new version from run {parent_run_id}"
    if gate.beats_baseline:
        _move_alias(settings, CHALLENGER, version, trained)
    else:
        reason = f"{trained}, forced (--force) although it loses to the baseline: {gate.reason}"
        actor = _move_alias(settings, CHALLENGER, version, reason, force=True)
        client.set_model_version_tag(settings.model_name, version, FORCED_TAG, CHALLENGER)
        client.set_model_version_tag(settings.model_name, version, FORCED_BY_TAG, actor)
    moved = [CHALLENGER]
    if gate.passed:
        _move_alias(settings, CHAMPION, version, f"keel train: gate passed: {gate.reason}")
        moved.append(CHAMPION)
    return gate, moved

"""The promotion gate: a model that does not beat the no-model baseline is never served, and
a new version never replaces a champion that does better on the same test set. Binary models are
judged on test PR AUC (`promotion_gate`), regression models on test MAE (`regression_gate`).

Two verdicts, two consequences: a version that beats the baseline (by the margin) but not the
champion may wait as `challenger` (it is better than no model); one that loses to the baseline
gets no serving alias at all, since `KEEL_CHALLENGER_SHARE` would serve it to real requests.
"""

from __future__ import annotations

from dataclasses import dataclass

GATE_TAG = "keel.gate"
GATE_REASON_TAG = "keel.gate_reason"
BASELINE_TAG = "keel.gate_baseline"
"""`passed` when the version beats the baseline by the margin, else `failed`: no serving alias."""


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    """Beats the baseline by the margin and is not below the champion: may become champion."""
    reason: str
    beats_baseline: bool
    """Beats the baseline by the margin: may be served, at least as challenger."""

    def as_tags(self) -> dict[str, str]:
        return {
            GATE_TAG: _verdict(self.passed),
            GATE_REASON_TAG: self.reason,
            BASELINE_TAG: _verdict(self.beats_baseline),
        }


def _verdict(passed: bool) -> str:
    return "passed" if passed else "failed"


def promotion_gate(
    candidate_pr_auc: float,
    baseline_pr_auc: float,
    *,
    champion_pr_auc: float | None = None,
    margin: float = 0.0,
) -> GateDecision:
    """Pass only if the candidate's test PR AUC beats the baseline's by more than `margin` and
    is not below the current champion's on the same test set (when there is one)."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    bar = baseline_pr_auc + margin
    if candidate_pr_auc <= bar:
        return GateDecision(
            False,
            f"test PR AUC {candidate_pr_auc:.4f} does not beat "
            f"baseline {baseline_pr_auc:.4f} + margin {margin:g}",
            beats_baseline=False,
        )
    if champion_pr_auc is not None and candidate_pr_auc < champion_pr_auc:
        return GateDecision(
            False,
            f"test PR AUC {candidate_pr_auc:.4f} is below the champion's {champion_pr_auc:.4f} "
            "on the same test set",
            beats_baseline=True,
        )
    versus = "" if champion_pr_auc is None else f", champion {champion_pr_auc:.4f}"
    return GateDecision(
        True,
        f"test PR AUC {candidate_pr_auc:.4f} beats baseline {baseline_pr_auc:.4f} "
        f"+ margin {margin:g}{versus}",
        beats_baseline=True,
    )


def baseline_gate(
    candidate_pr_auc: float, baseline_pr_auc: float, *, margin: float = 0.0
) -> GateDecision:
    """The gate without a champion to compare with."""
    return promotion_gate(candidate_pr_auc, baseline_pr_auc, margin=margin)


def regression_gate(
    candidate_mae: float,
    baseline_mae: float,
    *,
    champion_mae: float | None = None,
    margin: float = 0.01,
) -> GateDecision:
    """Pass only if the candidate's test MAE is at least `margin` (a fraction: 0.01 = 1%) below
    the best baseline's and not above the current champion's on the same test set. A baseline
    with MAE 0 (a constant label) cannot be beaten: the candidate must be strictly below it."""
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), got {margin}")
    bar = baseline_mae * (1 - margin)
    if not (candidate_mae <= bar and candidate_mae < baseline_mae):
        return GateDecision(
            False,
            f"test MAE {candidate_mae:.4g} is not {margin:.0%} below "
            f"the best baseline's {baseline_mae:.4g} (needs <= {bar:.4g})",
            beats_baseline=False,
        )
    if champion_mae is not None and candidate_mae > champion_mae:
        return GateDecision(
            False,
            f"test MAE {candidate_mae:.4g} is above the champion's {champion_mae:.4g} "
            "on the same test set",
            beats_baseline=True,
        )
    versus = "" if champion_mae is None else f", champion {champion_mae:.4g}"
    return GateDecision(
        True,
        f"test MAE {candidate_mae:.4g} is {margin:.0%}+ below "
        f"the best baseline's {baseline_mae:.4g}{versus}",
        beats_baseline=True,
    )

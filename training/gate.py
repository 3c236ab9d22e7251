"""The promotion gate: a model that does not beat the no-model baseline is never promoted, and
a new version never replaces a champion that does better on the same test set."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str

    def as_tags(self) -> dict[str, str]:
        return {"keel.gate": "passed" if self.passed else "failed", "keel.gate_reason": self.reason}


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
        )
    if champion_pr_auc is not None and candidate_pr_auc < champion_pr_auc:
        return GateDecision(
            False,
            f"test PR AUC {candidate_pr_auc:.4f} is below the champion's {champion_pr_auc:.4f} "
            "on the same test set",
        )
    versus = "" if champion_pr_auc is None else f", champion {champion_pr_auc:.4f}"
    return GateDecision(
        True,
        f"test PR AUC {candidate_pr_auc:.4f} beats baseline {baseline_pr_auc:.4f} "
        f"+ margin {margin:g}{versus}",
    )


def baseline_gate(
    candidate_pr_auc: float, baseline_pr_auc: float, *, margin: float = 0.0
) -> GateDecision:
    """The gate without a champion to compare with."""
    return promotion_gate(candidate_pr_auc, baseline_pr_auc, margin=margin)

"""The promotion gate: a model that does not beat the no-model baseline is never promoted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str

    def as_tags(self) -> dict[str, str]:
        return {"keel.gate": "passed" if self.passed else "failed", "keel.gate_reason": self.reason}


def baseline_gate(
    candidate_pr_auc: float, baseline_pr_auc: float, *, margin: float = 0.0
) -> GateDecision:
    """Pass only if the candidate's test PR AUC beats the baseline's by more than `margin`."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    bar = baseline_pr_auc + margin
    if candidate_pr_auc > bar:
        return GateDecision(
            True,
            f"test PR AUC {candidate_pr_auc:.4f} beats baseline {baseline_pr_auc:.4f} + {margin}",
        )
    return GateDecision(
        False,
        f"test PR AUC {candidate_pr_auc:.4f} does not beat "
        f"baseline {baseline_pr_auc:.4f} + {margin}",
    )

"""The options of one `keel train` run: overrides of the model spec, checked against its task."""

from __future__ import annotations

from dataclasses import dataclass

from keel.core.errors import InvalidInput
from keel.core.project import CANDIDATES, ModelSpec, unknown_candidates


@dataclass(frozen=True)
class ModelTrainOptions:
    """Overrides of the model spec for one run (None: the spec's own setting)."""

    gate_margin: float | None = None
    fn_cost: float | None = None
    fp_cost: float | None = None
    class_weight: str | None = None
    """Binary: `balanced` weighs the classes in the logistic regression."""
    candidates: tuple[str, ...] | None = None
    """The candidates to train beside the baselines (None: the spec's)."""
    shuffle_labels_seed: int | None = None
    """Sanity check: permute the training labels; the gate must then refuse the model."""
    force: bool = False
    """Make the new version `challenger` even if it loses to the baseline (recorded)."""

    def __post_init__(self) -> None:
        if (self.fn_cost is None) != (self.fp_cost is None):
            raise ValueError("give both --fn-cost and --fp-cost, or neither")
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")

    def applied_to(self, spec: ModelSpec) -> ModelSpec:
        """`spec` with these overrides, checked against its task (`InvalidInput` naming the
        option)."""
        if spec.task == "regression":
            binary_only = {"--fn-cost/--fp-cost": self.fn_cost, "--class-weight": self.class_weight}
            for flag, value in binary_only.items():
                if value is not None:
                    raise InvalidInput(f"{flag}: {spec.name} is a regression model")
        update: dict[str, object] = {}
        if self.gate_margin is not None:
            update["gate_margin"] = self.gate_margin
        if self.fn_cost is not None:
            update |= {"fn_cost": self.fn_cost, "fp_cost": self.fp_cost}
        if self.candidates is not None:
            unknown = unknown_candidates(spec.task, self.candidates)
            if unknown is not None:
                known = CANDIDATES[spec.task]
                raise InvalidInput(
                    f"--candidates: expected one or more of {', '.join(known)} for the "
                    f"{spec.task} model {spec.name}, got {', '.join(unknown) or 'none'}"
                )
            update["candidates"] = self.candidates
        return spec.model_copy(update=update)

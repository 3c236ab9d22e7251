"""`keel train`."""

from __future__ import annotations

from typing import Annotated

import typer

from keel.cli.common import console, step_status, user_errors
from keel.settings import get_settings


def train_command(
    gate_margin: Annotated[
        float, typer.Option(help="PR AUC the model must add over the baseline.")
    ] = 0.01,
    class_weight: Annotated[
        bool, typer.Option("--class-weight", help="Balance classes in logistic regression.")
    ] = False,
    horizon_days: Annotated[int, typer.Option(help="Label: churn within this many days.")] = 30,
    fn_cost: Annotated[
        float | None, typer.Option(help="Cost of a missed churner (with --fp-cost).")
    ] = None,
    fp_cost: Annotated[
        float | None, typer.Option(help="Cost of a false alarm (with --fn-cost).")
    ] = None,
    shuffle_labels: Annotated[
        int | None,
        typer.Option(help="Sanity check: permute training labels with this seed; must fail."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Make the new version `challenger` even if it loses to the baseline "
            "(recorded in the alias history and as a version tag).",
        ),
    ] = False,
) -> None:
    """Train baseline, one rule, logistic regression and boosting; register, gate, alias."""
    from keel.cli.render import train_summary
    from training.labels import SnapshotPlan
    from training.train import TrainOptions, train

    with user_errors():
        options = TrainOptions(
            plan=SnapshotPlan(horizon_days=horizon_days),
            gate_margin=gate_margin,
            class_weight="balanced" if class_weight else None,
            fn_cost=fn_cost,
            fp_cost=fp_cost,
            shuffle_labels_seed=shuffle_labels,
            force=force,
        )
    with user_errors(), step_status() as on_step:
        result = train(get_settings(), options=options, on_step=on_step)
    train_summary(console, result)

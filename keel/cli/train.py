"""`keel train [NAME]`: a model of keel.yaml, or the built-in churn example without one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from keel.cli.common import console, step_status, user_errors
from keel.settings import get_settings

if TYPE_CHECKING:
    from keel.project import Project


def train_command(
    name: Annotated[
        str | None,
        typer.Argument(
            help="The keel.yaml model to train (default: its only model; without keel.yaml, "
            "the churn example).",
            show_default=False,
        ),
    ] = None,
    gate_margin: Annotated[
        float | None,
        typer.Option(
            help="Binary: PR AUC the model must add over the baseline (default 0.01). "
            "Regression: fraction by which its MAE must beat the best baseline's "
            "(default: the model's gate_margin in keel.yaml, else 0.01).",
            show_default=False,
        ),
    ] = None,
    class_weight: Annotated[
        bool,
        typer.Option("--class-weight", help="Churn: balance classes in logistic regression."),
    ] = False,
    horizon_days: Annotated[
        int | None,
        typer.Option(
            help="Churn: label churn within this many days (default 30).", show_default=False
        ),
    ] = None,
    fn_cost: Annotated[
        float | None, typer.Option(help="Binary: cost of a missed positive (with --fp-cost).")
    ] = None,
    fp_cost: Annotated[
        float | None, typer.Option(help="Binary: cost of a false alarm (with --fn-cost).")
    ] = None,
    shuffle_labels: Annotated[
        int | None,
        typer.Option(help="Sanity check: permute training labels with this seed; must fail."),
    ] = None,
    candidates: Annotated[
        str | None,
        typer.Option(
            help="Churn: the candidates to train beside the baseline, comma-separated "
            "(one_rule, logistic_regression, gradient_boosting; default all). keel.yaml models "
            "name theirs in keel.yaml.",
            show_default=False,
        ),
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
    """Train the candidates simplest first; register, gate and alias the best one."""
    from keel.project import discover_project

    with user_errors():
        project = discover_project()
    if project is not None:
        _train_project_model(
            project,
            name,
            gate_margin=gate_margin,
            churn_only={
                "--class-weight": class_weight,
                "--horizon-days": horizon_days,
                "--candidates": candidates,
            },
            fn_cost=fn_cost,
            fp_cost=fp_cost,
            shuffle_labels=shuffle_labels,
            force=force,
        )
        return
    _train_churn(
        name,
        gate_margin=0.01 if gate_margin is None else gate_margin,
        class_weight=class_weight,
        horizon_days=30 if horizon_days is None else horizon_days,
        fn_cost=fn_cost,
        fp_cost=fp_cost,
        shuffle_labels=shuffle_labels,
        candidates=candidates,
        force=force,
    )


def _train_project_model(
    project: Project,
    name: str | None,
    *,
    gate_margin: float | None,
    churn_only: dict[str, object],
    fn_cost: float | None,
    fp_cost: float | None,
    shuffle_labels: int | None,
    force: bool,
) -> None:
    from keel.cli.render import model_train_summary
    from keel.errors import InvalidInput
    from training.model_train import ModelTrainOptions, train_model

    with user_errors():
        given = [flag for flag, value in churn_only.items() if value not in (None, False)]
        if given:
            raise InvalidInput(
                f"{', '.join(given)}: only for the built-in churn example, not for the "
                f"models of {project.path}"
            )
        model = project.model(name)
        if model.task == "regression" and fn_cost is not None:
            raise InvalidInput(f"--fn-cost/--fp-cost: {model.name} is a regression model")
        options = ModelTrainOptions(
            gate_margin=gate_margin,
            fn_cost=fn_cost,
            fp_cost=fp_cost,
            shuffle_labels_seed=shuffle_labels,
            force=force,
        )
    with user_errors(), step_status() as on_step:
        result = train_model(get_settings(), project, model.name, options=options, on_step=on_step)
    model_train_summary(console, result)


def _train_churn(
    name: str | None,
    *,
    gate_margin: float,
    class_weight: bool,
    horizon_days: int,
    fn_cost: float | None,
    fp_cost: float | None,
    shuffle_labels: int | None,
    candidates: str | None,
    force: bool,
) -> None:
    from keel.cli.render import train_summary
    from keel.errors import ModelNotFound
    from keel.project import CONFIG_ENV, FILE_NAME
    from keel.workspace import Workspace
    from synthetic.churn_labels import SnapshotPlan, write_churn_labels
    from training.train import TrainOptions, train

    settings = get_settings()
    with user_errors():
        if name is not None and name != settings.model_name:
            raise ModelNotFound(
                f"no model {name!r}: there is no {FILE_NAME} here and {CONFIG_ENV} is not set, "
                f"so Keel trains its built-in churn example, {settings.model_name!r}"
            )
        plan = SnapshotPlan(horizon_days=horizon_days)
        options = TrainOptions(
            gate_margin=gate_margin,
            class_weight="balanced" if class_weight else None,
            fn_cost=fn_cost,
            fp_cost=fp_cost,
            shuffle_labels_seed=shuffle_labels,
            force=force,
            candidates=None
            if candidates is None
            else tuple(c.strip() for c in candidates.split(",") if c.strip()),
        )
    with user_errors(), step_status() as on_step:
        from keel.feature_store import open_store

        open_store(settings)  # services first: one line naming a server that does not answer
        # The example writes its label table as a project would; training reads it.
        on_step("labelling snapshots")
        labels = write_churn_labels(Workspace.from_settings(settings).raw_dir, plan)
        result = train(settings, labels, options=options, on_step=on_step)
    train_summary(console, result)

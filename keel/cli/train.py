"""`keel train [NAME]`: a model of keel.yaml, or the built-in churn example without one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from keel.cli.common import console, step_status, user_errors
from keel.cli.render import model_train_summary
from keel.core.errors import InvalidInput
from keel.core.settings import get_settings

if TYPE_CHECKING:
    from keel.core.project import Project
    from training.train_options import ModelTrainOptions


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
        typer.Option("--class-weight", help="Binary: balance classes in logistic regression."),
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
            help="The candidates to train beside the baselines, comma-separated (binary: "
            "one_rule, logistic_regression, gradient_boosting; regression: one_rule, ridge, "
            "gradient_boosting; default: keel.yaml's, else all).",
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
    from keel.core.project import discover_project
    from training.train_options import ModelTrainOptions

    with user_errors():
        project = discover_project()
        if project is not None and horizon_days is not None:
            raise InvalidInput(
                f"--horizon-days: only for the built-in churn example, not for the models of "
                f"{project.path}"
            )
        options = ModelTrainOptions(
            gate_margin=gate_margin,
            fn_cost=fn_cost,
            fp_cost=fp_cost,
            class_weight="balanced" if class_weight else None,
            candidates=None
            if candidates is None
            else tuple(c.strip() for c in candidates.split(",") if c.strip()),
            shuffle_labels_seed=shuffle_labels,
            force=force,
        )
    if project is not None:
        _train_project_model(project, name, options)
    else:
        _train_churn(name, options, horizon_days=30 if horizon_days is None else horizon_days)


def _train_project_model(project: Project, name: str | None, options: ModelTrainOptions) -> None:
    from training.model_train import train_model

    with user_errors(), step_status() as on_step:
        result = train_model(get_settings(), project, name, options=options, on_step=on_step)
    model_train_summary(console, result)


def _train_churn(name: str | None, options: ModelTrainOptions, *, horizon_days: int) -> None:
    from keel.core.errors import ModelNotFound
    from keel.core.project import CONFIG_ENV, FILE_NAME
    from keel.core.workspace import Workspace
    from synthetic.churn_labels import SnapshotPlan, churn_model, write_churn_labels
    from training.model_train import train_workspace_model

    settings = get_settings()
    with user_errors():
        if name is not None and name != settings.model_name:
            raise ModelNotFound(
                f"no model {name!r}: there is no {FILE_NAME} here and {CONFIG_ENV} is not set, "
                f"so Keel trains its built-in churn example, {settings.model_name!r}"
            )
        plan = SnapshotPlan(horizon_days=horizon_days)
        raw_dir = Workspace.from_settings(settings).raw_dir
    with user_errors(), step_status() as on_step:
        from keel.feast_plumbing.feature_store import open_store

        open_store(settings)  # services first: one line naming a server that does not answer
        # The example writes its label table as a project would; training reads it (and checks
        # the options against the model before any other work).
        on_step("labelling snapshots")
        labels = write_churn_labels(raw_dir, plan)
        result = train_workspace_model(
            settings, churn_model(settings, labels), made=labels, options=options, on_step=on_step
        )
    model_train_summary(console, result)

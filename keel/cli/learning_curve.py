"""`keel learning-curve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keel.cli.common import console, step_status, user_errors
from keel.core.settings import get_settings


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from None
    if not sizes:
        raise typer.BadParameter("give at least one size")
    return sizes


def learning_curve_command(
    sizes: Annotated[
        str, typer.Option(help="Comma-separated training-set sizes.")
    ] = "1000,3000,10000,30000,100000",
    repeats: Annotated[int, typer.Option(help="Random samples per size.")] = 3,
    model: Annotated[str, typer.Option(help="logistic_regression or gradient_boosting.")] = (
        "logistic_regression"
    ),
    data: Annotated[
        Path | None, typer.Option(help="Any labelled .parquet/.csv table (default: the workspace).")
    ] = None,
    target: Annotated[str, typer.Option(help="Label column of --data.")] = "churned",
    target_pr_auc: Annotated[
        float | None, typer.Option(help="Estimate the examples this PR AUC needs.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Quality against training examples; how much data would a target PR AUC need?"""
    from training.learning_curve import format_examples
    from training.learning_curve_job import run_learning_curve

    size_list = _sizes(sizes)
    settings = get_settings()
    with user_errors(), step_status(record=False) as on_step:
        spec = None
        if data is None:  # the churn example's model, as `keel train` trains it
            from keel.core.workspace import Workspace
            from synthetic.churn_labels import churn_model, write_churn_labels

            labels = write_churn_labels(Workspace.from_settings(settings).raw_dir)
            spec = churn_model(settings, labels)
        result = run_learning_curve(
            settings,
            sizes=size_list,
            repeats=repeats,
            model=model,
            data=data,
            spec=spec,
            target=target,
            target_pr_auc=target_pr_auc,
            seed=seed,
            on_step=on_step,
        )
    table = Table(title=f"Learning curve ({model}, test rows {result.curve.test_rows:,})")
    for column in ("examples", "PR AUC", "ROC AUC"):
        table.add_column(column, justify="right")
    for row in result.curve.summary().to_dict("records"):
        table.add_row(
            f"{int(row['size']):,}",
            f"{row['pr_auc_mean']:.3f} ± {row['pr_auc_std']:.3f}",
            f"{row['roc_auc_mean']:.3f} ± {row['roc_auc_std']:.3f}",
        )
    console.print(table)
    if result.curve.skipped_sizes:
        console.print(f"skipped sizes larger than the data: {result.curve.skipped_sizes}")
    if result.fit:
        fit = result.fit
        console.print(
            f"power law: PR AUC ≈ {fit.asymptote:.3f} - {fit.scale:.3g}·n^-{fit.exponent:.3f}"
        )
    if result.target_pr_auc is not None:
        largest = int(result.curve.points["size"].max())
        needs = format_examples(result.examples_needed, largest=largest)
        console.print(f"PR AUC {result.target_pr_auc:.3f}: {needs}")
    console.print(f"logged to MLflow run {result.run_id}")

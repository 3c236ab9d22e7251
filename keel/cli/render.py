"""Rich renderings of library results (the library itself never prints)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from synthetic.churn_dataset import DataSummary
    from training.model_train import ModelTrainResult

HEADLINE = {
    "pr_auc": "PR AUC",
    "roc_auc": "ROC AUC",
    "f1": "F1",
    "recall": "recall",
    "lift_top_decile": "lift@10%",
    "brier": "Brier",
    "ece": "ECE",
}


def data_table(summary: DataSummary) -> Table:
    table = Table(title="Data", show_header=True)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.raw_rows.items():
        table.add_row(f"raw/{name}", f"{rows:,}")
    for name, rows in summary.feature_tables.rows.items():
        table.add_row(f"features/{name.removesuffix('.parquet')}", f"{rows:,}")
    return table


REGRESSION_HEADLINE = {"mae": "MAE", "rmse": "RMSE", "r2": "R²"}


def model_metrics_table(result: ModelTrainResult) -> Table:
    """Each candidate's test figures (and validation's headline), simplest first."""
    table = Table(
        title=f"{result.model}: test set, simplest model first",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("model", no_wrap=True)
    headline = REGRESSION_HEADLINE if result.task == "regression" else HEADLINE
    for header in headline.values():
        table.add_column(header, justify="right", min_width=5)
    first = next(iter(headline))
    table.add_column(f"valid {headline[first]}", justify="right", style="dim", min_width=5)
    for candidate in result.candidates:
        style = "bold" if candidate.name == result.selected else None
        table.add_row(
            candidate.name,
            *(f"{candidate.test[m]:.3f}" for m in headline),
            f"{candidate.valid[first]:.3f}",
            style=style,
        )
    return table


def model_train_summary(console: Console, result: ModelTrainResult) -> None:
    rows = ", ".join(f"{k} {v:,}" for k, v in result.rows.items())
    figure = "label rate" if result.task == "binary" else "label mean"
    console.print(
        f"{result.model} ({result.task}): rows {rows}; {figure} {result.label_figure:.4g}"
    )
    console.print(model_metrics_table(result))
    verdict = "[green]passed[/]" if result.gate.passed else "[red]failed[/]"
    aliases = ", ".join(result.aliases) or "none"
    console.print(
        f"{result.selected} registered as {result.model} version {result.model_version} "
        f"(aliases: {aliases}); gate {verdict}: {result.gate.reason}"
    )


def predictions_table(responses: list[dict[str, Any]]) -> Table:
    table = Table(title="Predictions over HTTP", show_header=True)
    for column in ("status", "customer", "churn probability", "model", "prediction id / error"):
        table.add_column(column)
    for answer in responses:
        if answer["status"] == 200:
            model = answer["model"]
            table.add_row(
                "200",
                str(answer["customer_id"]),
                f"{answer['churn_probability']:.4f}",
                f"{model['name']} v{model['version']}",
                answer["prediction_id"],
            )
        else:
            table.add_row(str(answer["status"]), "", "", "", answer.get("detail", ""))
    return table

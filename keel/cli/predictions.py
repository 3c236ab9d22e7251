"""`keel predictions export|stats`: the prediction log as Parquet, and who served what."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keel.cli.common import console, user_errors
from keel.settings import get_settings

predictions_app = typer.Typer(help="The prediction log: export and statistics.")


@predictions_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
) -> None:
    """Every logged prediction with its features and feedback, as Parquet (DuckDB-ready)."""
    from serving.log_export import export_parquet
    from serving.prediction_log import open_prediction_log

    with user_errors():
        log = open_prediction_log(get_settings())
        try:
            rows = export_parquet(log, out)
        finally:
            log.close()
    console.print(f"wrote {rows:,} predictions to {out}")


@predictions_app.command("stats")
def stats_command() -> None:
    """Prediction counts by model version and role, with feedback coverage."""
    from serving.log_export import log_stats
    from serving.prediction_log import open_prediction_log

    with user_errors():
        log = open_prediction_log(get_settings())
        try:
            stats = log_stats(log)
        finally:
            log.close()
    table = Table(title="Prediction log", show_header=True)
    for column in ("model", "version", "served by", "predictions", "with feedback", "coverage"):
        table.add_column(column, justify="right" if column[0] in "pwc" else "left")
    for row in stats:
        table.add_row(
            row.model_name,
            row.model_version,
            row.served_by,
            f"{row.predictions:,}",
            f"{row.with_feedback:,}",
            f"{row.feedback_coverage:.1%}",
        )
    total = sum(row.predictions for row in stats)
    answered = sum(row.with_feedback for row in stats)
    console.print(table)
    console.print(f"total {total:,} predictions, {answered:,} with feedback")

"""`keel score`: batch scoring from the offline store, point in time, logged."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from keel.cli.common import console, user_errors
from keel.settings import get_settings


def score_command(
    input_path: Annotated[
        Path, typer.Option("--input", help="Parquet or CSV file with a customer_id column.")
    ],
    as_of: Annotated[
        str, typer.Option("--as-of", help="Scoring time, ISO 8601 with zone (2026-11-30T00:00Z).")
    ],
    output: Annotated[Path, typer.Option("--output", help="Parquet file of the scores.")],
) -> None:
    """Score customers with the champion on point-in-time features; every score is logged.
    The time and the file are checked before any work starts."""
    from serving.batch_scoring import parse_as_of, read_customers, score_customers

    with user_errors():
        moment = parse_as_of(as_of)
        customers = read_customers(input_path)
        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        task = progress.add_task("scoring", total=len(customers), start=False)

        def on_progress(done: int, _total: int) -> None:
            if not progress.live.is_started:  # shown once the store, model and log are open
                progress.start()
                progress.start_task(task)
            progress.update(task, completed=done)

        try:
            summary = score_customers(
                get_settings(),
                customers=customers,
                as_of=moment,
                output=output,
                on_progress=on_progress,
            )
        finally:
            if progress.live.is_started:
                progress.stop()
    console.print(
        f"scored {summary.scored:,} customers with {summary.model_name} v{summary.model_version}"
        f" ({summary.unknown:,} unknown) -> {summary.output}; logged as batch:{summary.batch_id}"
    )

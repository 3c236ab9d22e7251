"""`keel score`: batch scoring from the offline store, point in time, logged."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from keel.cli.common import console, user_errors
from keel.core.settings import get_settings


def score_command(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            help="Parquet or CSV file of the model's join keys (and request fields): "
            "customer_id for the churn example.",
        ),
    ],
    as_of: Annotated[
        str, typer.Option("--as-of", help="Scoring time, ISO 8601 with zone (2026-11-30T00:00Z).")
    ],
    output: Annotated[Path, typer.Option("--output", help="Parquet file of the scores.")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="keel.yaml's model to score (default: its only one, or churn)."
        ),
    ] = None,
) -> None:
    """Score entities with the model's champion on point-in-time features; every score is
    logged. The time and the file are checked before any work starts."""
    from serving.batch_scoring import parse_as_of, read_entities, score_entities, score_target

    with user_errors():
        moment = parse_as_of(as_of)
        settings = get_settings()
        target = score_target(settings, model)
        entities = read_entities(input_path, target)
        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        task = progress.add_task("scoring", total=len(entities), start=False)

        def show() -> None:
            if not progress.live.is_started:  # shown once the store, model and log are open
                progress.start()
                progress.start_task(task)

        def on_progress(done: int, _total: int) -> None:
            show()
            progress.update(task, completed=done)

        def on_step(step: str) -> None:  # the clock ticks on during a long step
            show()
            progress.update(task, description=step)

        try:
            summary = score_entities(
                settings,
                target=target,
                entities=entities,
                as_of=moment,
                output=output,
                on_progress=on_progress,
                on_step=on_step,
            )
        finally:
            if progress.live.is_started:
                progress.stop()
    console.print(
        f"scored {summary.scored:,} {target.plural} with {summary.model_name} "
        f"v{summary.model_version} ({summary.unknown:,} unknown) -> {summary.output}; "
        f"logged as batch:{summary.batch_id}"
    )

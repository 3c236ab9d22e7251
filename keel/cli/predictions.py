"""`keel predictions export|stats|trace|forget`: the prediction log as Parquet, who served
what, where one prediction came from, and an entity's erasure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keel.cli.common import console, user_errors
from keel.core.settings import get_settings

predictions_app = typer.Typer(help="The prediction log: export, statistics, trace and erasure.")


@predictions_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    model: Annotated[
        str | None,
        typer.Option("--model", help="Only this model's predictions (its join keys as columns)."),
    ] = None,
) -> None:
    """Every logged prediction with its features and feedback, as Parquet (DuckDB-ready)."""
    from serving.log_export import export_parquet
    from serving.prediction_log import open_prediction_log

    with user_errors():
        log = open_prediction_log(get_settings())
        try:
            rows = export_parquet(log, out, model=model)
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


@predictions_app.command("trace")
def trace_command(
    prediction_id: Annotated[str, typer.Argument(help="A prediction id from an answer or export.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Model version, run, dataset digest, feature service, code commits, features and score."""
    from keel.cli.predictions_render import trace_table
    from serving.prediction_log import open_prediction_log
    from serving.trace import trace_prediction

    settings = get_settings()
    with user_errors():
        log = open_prediction_log(settings)
        try:
            trace = trace_prediction(settings, log, prediction_id)
        finally:
            log.close()
    if as_json:
        typer.echo(json.dumps(trace.as_dict(), indent=2, default=str))
    else:
        console.print(trace_table(trace))


def parse_entity(pairs: list[str]) -> dict[str, str]:
    """`--entity key=value` options as {key: value}; `ValueError` naming the bad one."""
    entity: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or not value:
            raise ValueError(f"--entity {pair!r}: expected KEY=VALUE, e.g. --entity driver_id=1001")
        if key in entity:
            raise ValueError(f"--entity {key}: given twice")
        entity[key] = value
    return entity


@predictions_app.command("forget")
def forget_command(
    customer: Annotated[
        int | None,
        typer.Argument(help="The churn example's customer id (same as --entity customer_id=N)."),
    ] = None,
    customer_id: Annotated[
        int | None,
        typer.Option("--customer-id", help="The churn example's customer id (as the argument)."),
    ] = None,
    entity_pairs: Annotated[
        list[str] | None,
        typer.Option(
            "--entity",
            help="A join key and its value, KEY=VALUE; repeat it for a composite key.",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Only this model's records (default: all).")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who (default KEEL_ACTOR, else the OS user).")
    ] = None,
) -> None:
    """Erase an entity's predictions and feedback (one transaction), audited without its data.

    A value is matched as the log holds it: as an integer, a decimal number or a string."""
    from registry.aliases import resolve_actor
    from serving.log_erasure import candidate_keys
    from serving.prediction_log import open_prediction_log

    settings = get_settings()
    with user_errors():
        given = [v for v in (customer, customer_id) if v is not None]
        if len(given) + bool(entity_pairs) != 1:
            raise ValueError(
                "forget: name the entity once: --entity KEY=VALUE (repeatable), "
                "or the churn example's customer id (argument or --customer-id)"
            )
        entity = parse_entity(entity_pairs) if entity_pairs else {"customer_id": str(given[0])}
        log = open_prediction_log(settings)
        try:
            erased = log.forget_entity(
                candidate_keys(entity), model=model, actor=resolve_actor(settings, actor)
            )
        finally:
            log.close()
    console.print(
        f"erased {erased.predictions:,} predictions and {erased.feedback:,} feedback records "
        f"(audit {erased.audit_id})"
    )

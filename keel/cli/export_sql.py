"""`keel models export-sql`: a logistic-regression version as one SQL expression."""

from __future__ import annotations

from typing import Annotated

import typer

from keel.cli.common import user_errors
from keel.core.settings import get_settings


def export_sql_command(
    ref: Annotated[str, typer.Argument(help="churn@champion or churn/7.")],
    column: Annotated[
        str, typer.Option(help="Name of the resulting column.")
    ] = "churn_probability",
) -> None:
    """Print the model's churn probability as a SQL expression over the feature columns."""
    from registry.client import mlflow_client
    from registry.models import load_version
    from registry.refs import parse_ref, resolve_ref
    from training.export_sql import probability_sql

    with user_errors():
        settings = get_settings()
        client = mlflow_client(settings)
        model_ref = parse_ref(ref)
        version = resolve_ref(client, model_ref)
        loaded = load_version(client, version, alias=model_ref.alias)
        sql = probability_sql(loaded.pipeline)
    typer.echo(
        f"-- {loaded.name} version {loaded.version}; inputs: {', '.join(loaded.feature_columns)}"
    )
    typer.echo(f"{sql} AS {column}")

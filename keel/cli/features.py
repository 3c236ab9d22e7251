"""`keel features …`: the Feast feature repo."""

from __future__ import annotations

import typer

from keel.cli.common import console, step_status, user_errors
from keel.settings import get_settings

features_app = typer.Typer(help="The Feast feature repo.", no_args_is_help=True)


@features_app.command("apply")
def features_apply() -> None:
    """Register entities, feature views and services in Feast's registry."""
    from keel.features import apply_definitions

    with user_errors(), console.status("feast apply"):
        applied = apply_definitions(get_settings())
    for name in applied.created_databases:
        console.print(f"created database {name}")
    console.print(f"applied views {applied.feature_views + applied.on_demand_views}")
    console.print(f"feature services {applied.feature_services}")


@features_app.command("materialize")
def features_materialize() -> None:
    """Load the latest feature values into the online store."""
    from keel.features import materialize

    with user_errors(), step_status() as on_step:
        views = materialize(get_settings(), on_step=on_step)
    console.print(f"materialized {views}")

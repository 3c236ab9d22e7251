"""`keel features …`: the Feast feature repo (keel.yaml's, else Keel's churn repo)."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Annotated

import typer

from keel.cli.common import console, step_status, user_errors
from keel.core.settings import get_settings
from keel.feast_plumbing.feast_import import skip_typeguard_instrumentation

features_app = typer.Typer(help="The Feast feature repo.", no_args_is_help=True)


@features_app.callback()
def features_group(ctx: typer.Context) -> None:
    """The Feast feature repo: apply, materialize, env."""
    if ctx.invoked_subcommand != "apply":  # apply builds the churn repo's definitions here
        skip_typeguard_instrumentation()


TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


@features_app.command("apply")
def features_apply() -> None:
    """Register entities, feature views and services in Feast's registry.

    With a keel.yaml (./keel.yaml or $KEEL_CONFIG): `feast apply` in its feature_repo."""
    from keel.core.project import discover_project
    from keel.feast_plumbing.features import apply_definitions, apply_project

    with user_errors():
        project = discover_project()
        with console.status("feast apply"):
            if project is None:
                applied = apply_definitions(get_settings())
            else:
                applied = apply_project(project)
    if project is not None:
        console.print(f"Feast repo {project.feature_repo}")
    for name in applied.created_databases:
        console.print(f"created database {name}")
    console.print(f"applied views {applied.feature_views + applied.on_demand_views}")
    if applied.label_views:
        console.print(f"label views {applied.label_views}")
    console.print(f"feature services {applied.feature_services}")


@features_app.command("materialize")
def features_materialize(
    start: Annotated[
        datetime | None,
        typer.Option(formats=TIME_FORMATS, help="Oldest rows read, UTC [default: 2000-01-01]."),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(formats=TIME_FORMATS, help="Newest rows read, UTC [default: now]."),
    ] = None,
) -> None:
    """Load the latest feature values (per key, in the window) into the online store.

    With a keel.yaml (./keel.yaml or $KEEL_CONFIG): its feature_repo's online store."""
    from keel.core.project import discover_project
    from keel.feast_plumbing.features import materialize, materialize_project

    start, end = _utc(start), _utc(end)
    with user_errors():
        project = discover_project()
        with step_status() as on_step:
            if project is None:
                views = materialize(get_settings(), start=start, end=end, on_step=on_step)
            else:
                views = materialize_project(project, start=start, end=end, on_step=on_step)
    console.print(f"materialized {views}")


@features_app.command("env")
def features_env() -> None:
    """Print `export KEEL_...=...` lines with which Feast's own CLI opens Keel's churn repo.

    `eval "$(keel features env)"`, then `feast apply`, `feast ui` or `feast serve` in
    feature_repo/ (the lines name the directory and, beyond `local`, the profile's YAML). The
    values hold the profile's credentials, as the settings do."""
    from keel.core.project import discover_project
    from keel.feast_plumbing.feature_store import CONFIG_FILES, REPO_DIR, feast_environment

    with user_errors():
        project = discover_project()
        settings = get_settings()
        values = feast_environment(settings)
    if project is not None:
        print(f"# {project.path}: its repo {project.feature_repo} is a standard Feast repo,")
        print("# run feast there as it is; these lines are for Keel's built-in churn repo.")
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}")
    option = "" if settings.profile == "local" else f" -f {CONFIG_FILES[settings.profile].name}"
    print(f"# then: cd {shlex.quote(str(REPO_DIR))} && feast{option} apply  (or ui, serve)")


def _utc(moment: datetime | None) -> datetime | None:
    """A time given without a zone is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)

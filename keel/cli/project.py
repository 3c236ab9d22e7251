"""`keel project …`: the project file (keel.yaml) and its checks against the Feast registry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from keel.cli.common import console, user_errors

if TYPE_CHECKING:
    from collections.abc import Iterable

    from keel.feast_plumbing.project_checks import ModelSummary, ServiceFeature, Typed

project_app = typer.Typer(help="The project file (keel.yaml) and its models.", no_args_is_help=True)


@project_app.command("check")
def project_check(
    config: Annotated[
        Path | None,
        typer.Option(help="The project file (default: $KEEL_CONFIG, else ./keel.yaml)."),
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="Check only this model (repeatable).")
    ] = None,
) -> None:
    """Check every model of keel.yaml against its Feast registry and label table."""
    from keel.core.errors import InvalidProject
    from keel.core.project import CONFIG_ENV, FILE_NAME, discover_project, load_project
    from keel.feast_plumbing.project_checks import check_project

    with user_errors():
        project = load_project(config) if config else discover_project()
        if project is None:
            raise InvalidProject(
                f"no project file: no {FILE_NAME} in {Path.cwd()} and {CONFIG_ENV} is not set "
                "(without one, Keel runs its built-in churn example)"
            )
        with console.status("checking against the Feast registry"):
            summaries = check_project(project, names=model or None)
    console.print(f"[bold]{project.path}[/]: Feast repo {project.feature_repo}")
    for summary in summaries:
        console.print(summary_table(summary, base=project.path.parent))
    console.print(f"[green]✓[/] {len(summaries)} model(s) ready")


def summary_table(summary: ModelSummary, *, base: Path) -> Table:
    """One model's checked schema and label figures, as a two-column table."""
    model, service, labels = summary.model, summary.service, summary.labels
    table = Table(title=f"{model.name} ({model.task})", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    if labels.label_rate is not None:
        figure = f"rate {labels.label_rate:.3f}"
    else:
        figure = f"mean {labels.label_mean:.4g}"
    rows = [
        ("feature service", service.name),
        ("join keys", _typed(service.join_keys)),
        ("request fields", _typed(service.request_fields) or "[dim]none[/]"),
        ("numeric features", _names(f for f in service.usable if f.kind == "numeric")),
        ("categorical features", _names(f for f in service.usable if f.kind == "categorical")),
        ("left out", ", ".join(f"{f.ref} ({f.dtype})" for f in service.skipped) or "[dim]none[/]"),
        ("labels", _relative(model.labels, base)),
        ("label", f"{model.label}: {figure}"),
        ("rows", f"{labels.rows:,} ({labels.entities:,} distinct keys)"),
        ("time range", f"{labels.start:%Y-%m-%d %H:%M} → {labels.end:%Y-%m-%d %H:%M} UTC"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _typed(fields: tuple[Typed, ...]) -> str:
    return ", ".join(f"{field.name} ({field.dtype})" for field in fields)


def _names(features: Iterable[ServiceFeature]) -> str:
    return ", ".join(feature.ref for feature in features) or "[dim]none[/]"


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)

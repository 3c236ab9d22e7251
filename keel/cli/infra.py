"""`keel infra up|down|status`: the production profile as processes on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from keel.cli.common import console, user_errors

if TYPE_CHECKING:
    from keel.ops.infra_config import StackConfig

infra_app = typer.Typer(
    help="Run the production profile on this machine: MLflow server + Keel API.",
    no_args_is_help=True,
)

ProfileOption = Annotated[
    str, typer.Option("--profile", help="Which stack to run (only `production` for now).")
]
EnvFileOption = Annotated[
    Path | None,
    typer.Option(
        "--env-file", help="KEEL_* values of the stack (default infra/local-production.env)."
    ),
]


def _config(profile: str, env_file: Path | None) -> StackConfig:
    from keel.ops.infra_config import check_profile, load_stack_config

    check_profile(profile)
    return load_stack_config(env_file)


def _show_status(config: StackConfig) -> None:
    from keel.ops.infra_stack import status

    table = Table("process", "pid", "running", "url", "health", "log")
    for process in status(config):
        running = "[green]yes[/]" if process.alive else "[red]no[/]"
        table.add_row(
            process.name,
            str(process.pid or "-"),
            running,
            process.url,
            escape(process.health),
            str(process.log),
        )
    console.print(table)


@infra_app.command("up")
def infra_up(profile: ProfileOption = "production", env_file: EnvFileOption = None) -> None:
    """Start the MLflow server and the API (several workers); create their databases if
    missing. Already running: says so."""
    from keel.ops.infra_stack import up

    with user_errors():
        config = _config(profile, env_file)
        with console.status("starting the MLflow server and the API"):
            result = up(config)
    if result.already_up:
        console.print("[yellow]already up[/]: nothing started")
    for name in result.created_databases:
        console.print(f"created database {name}")
    if result.started:
        console.print(f"started {', '.join(result.started)}")
    if result.token_file:
        console.print(f"API token (every scope) in {result.token_file}")
    if result.waiting_for:
        console.print(f"[yellow]API not started[/]: {escape(result.waiting_for)}", soft_wrap=True)
    _show_status(config)


@infra_app.command("down")
def infra_down(profile: ProfileOption = "production", env_file: EnvFileOption = None) -> None:
    """Stop the API and the MLflow server (SIGTERM, then SIGKILL after a timeout)."""
    from keel.ops.infra_stack import down

    with user_errors():
        config = _config(profile, env_file)
        stopped = down(config)
    console.print(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@infra_app.command("status")
def infra_status(profile: ProfileOption = "production", env_file: EnvFileOption = None) -> None:
    """Each process: pid, whether it runs, its URL, what its health endpoint answers, its log."""
    with user_errors():
        config = _config(profile, env_file)
        _show_status(config)

"""What every CLI module shares: the console, user-error handling, and step progress."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from typer.core import TyperGroup

from keel.core.errors import KeelError, WorkspaceNotReady
from keel.core.redaction import configured_secrets, install_redaction, redact
from keel.core.settings import get_settings

# Piped or captured output (CI logs, scripts, tests) gets wide tables instead of Rich's 80
# columns, which would cut cells; a terminal keeps its own width.
console = Console(width=None if sys.stdout.isatty() else 160)
errors_console = Console(stderr=True, soft_wrap=True)
"""Errors go to stderr, so a script reading stdout (`--json`) never parses an error."""
EXIT_USAGE = 2
ERROR_PREFIX = "error: "


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can fix become one red `error: ` line on stderr and exit code 2, never a
    traceback."""
    try:
        yield
    except (KeelError, ValueError) as error:
        fail(str(error))


def fail(message: str) -> NoReturn:
    """Print `message` as the one `error: ` line on stderr and exit with code 2."""
    print_error(message)
    raise typer.Exit(EXIT_USAGE)


def print_error(message: str) -> None:
    """`message` as one `error: ` line on stderr: secrets masked, line breaks folded."""
    line = " ".join(redact(message, _secrets()).split())
    errors_console.print(f"[red]{ERROR_PREFIX.strip()}[/] {escape(line)}", highlight=False)


class KeelGroup(TyperGroup):
    """The root command: Click's errors (a missing option, an unknown command) become the same
    one `error: ` line on stderr as Keel's own, with Click's exit code (2 for usage), instead of
    the usage text and a boxed "Error" panel."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        def run() -> Any:
            return super(KeelGroup, self).main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )

        if not standalone_mode:
            return run()
        try:
            code = run()
        except typer.TyperException as error:  # Click's exceptions, as Typer vendors them
            if type(error).__name__ != "NoArgsIsHelpError":  # that one printed the help
                context = getattr(error, "ctx", None)
                hint = f" (see `{context.command_path} --help`)" if context is not None else ""
                print_error(f"{error.format_message()}{hint}")
            sys.exit(getattr(error, "exit_code", 1))
        except typer.Abort:
            print_error("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _secrets() -> list[str]:
    """The configured secrets to mask in a message (none if the settings themselves are bad)."""
    try:
        return configured_secrets(get_settings())
    except ValueError:
        return []


def guard_process(*, check_production: bool = True) -> None:
    """At CLI start-up: redact secrets from every log line (filter on the root logger's
    handlers); unless only help is asked, refuse a `KEEL_HOME` that is not a directory and a
    production profile with default or empty credentials (exit 2)."""
    from keel.ops.production_checks import refuse_insecure_production

    with user_errors():
        settings = get_settings()
        install_redaction(settings)
        if check_production:
            check_home(settings.home)
            refuse_insecure_production(settings)


def check_home(home: Path) -> None:
    """`WorkspaceNotReady` when the workspace path exists but is not a directory."""
    if home.exists() and not home.is_dir():
        raise WorkspaceNotReady(
            f"KEEL_HOME {home} is a file, not a directory: set KEEL_HOME to a directory "
            "(Keel creates it if it does not exist)"
        )


STEP_COUNT = re.compile(r"\((\d+)/(\d+)\)\s*$")
"""A step message ending in `(k/n)` is item k of n: on a terminal, the bar shows k-1 done."""


@contextmanager
def step_status(*, record: bool = True) -> Iterator[Callable[[str], None]]:
    """Show the current step: on a terminal a spinner, and a progress bar while the steps
    count themselves (`materializing x (2/3)`, `candidate y (1/4)`); with `record`, each finished
    step is ticked and timed (without, only the current step shows: for many short steps).
    Piped output gets the ticked lines only, plain: no spinner, bar or escape codes."""
    started = time.monotonic()
    last: list[str] = []

    def tick() -> None:
        if last and record:
            console.print(f"[green]✓[/] {last[0]} [dim]({time.monotonic() - started:.1f} s)[/]")
            last.clear()

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task("starting", total=None, count="")

        def on_step(message: str) -> None:
            tick()
            last.append(message)
            count = STEP_COUNT.search(message)
            if count:
                done, total = int(count.group(1)) - 1, int(count.group(2))
                progress.update(
                    task, description=message, completed=done, total=total, count=f"{done}/{total}"
                )
            else:
                progress.update(task, description=message, completed=0, total=None, count="")

        yield on_step
    tick()

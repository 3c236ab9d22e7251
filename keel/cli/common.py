"""What every CLI module shares: the console, user-error handling, and step progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from keel.errors import KeelError
from keel.redaction import configured_secrets, install_redaction, redact
from keel.settings import get_settings

# Piped or captured output (CI logs, scripts, tests) gets wide tables instead of Rich's 80
# columns, which would cut cells; a terminal keeps its own width.
console = Console(width=None if sys.stdout.isatty() else 160)
EXIT_USAGE = 2


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can fix become one red line and exit code 2, never a traceback."""
    try:
        yield
    except (KeelError, ValueError) as error:
        message = redact(str(error), _secrets())
        console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None


def _secrets() -> list[str]:
    """The configured secrets to mask in a message (none if the settings themselves are bad)."""
    try:
        return configured_secrets(get_settings())
    except ValueError:
        return []


def guard_process(*, check_production: bool = True) -> None:
    """At CLI start-up: redact secrets from every log line (filter on the root logger's
    handlers), and refuse a production profile with default or empty credentials (exit 2)."""
    from keel.production_checks import refuse_insecure_production

    with user_errors():
        settings = get_settings()
        install_redaction(settings)
        if check_production:
            refuse_insecure_production(settings)


@contextmanager
def step_status(*, record: bool = True) -> Iterator[Callable[[str], None]]:
    """A spinner showing the current step; with `record`, each finished step is ticked and
    timed (without, only the spinner moves: for many short steps)."""
    started = time.monotonic()
    last: list[str] = []

    def tick() -> None:
        if last and record:
            console.print(f"[green]✓[/] {last[0]} [dim]({time.monotonic() - started:.1f} s)[/]")
            last.clear()

    with console.status("starting") as status:

        def on_step(message: str) -> None:
            tick()
            last.append(message)
            status.update(message)

        yield on_step
    tick()

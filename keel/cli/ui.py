"""`keel ui`: the MLflow UI on the workspace's backend store."""

from __future__ import annotations

import signal
import subprocess
from types import FrameType
from typing import Annotated

import typer

from keel.cli.common import console, user_errors
from keel.core.settings import get_settings

STOP_TIMEOUT_S = 15


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # same clean shutdown as Ctrl-C


def ui_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
) -> None:
    """Start the MLflow UI on this workspace's runs and registry (Ctrl-C stops it)."""
    from registry.ui import ui_server

    with user_errors():
        server = ui_server(get_settings(), host=host, port=port)
    console.print(f"MLflow UI on [bold]{server.url}[/] (Ctrl-C to stop)")
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    process = subprocess.Popen(server.command, env=server.env)
    try:
        code = process.wait()
    except KeyboardInterrupt:
        # MLflow's server forwards the signal to its web workers; never leave them orphaned.
        process.terminate()
        try:
            code = process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    raise typer.Exit(0 if code in (0, -signal.SIGTERM) else code)

"""The `keel` command line: each command parses options, calls one library function, renders.

Command groups live in their own modules (`keel/cli/<group>.py`) and are registered here.
"""

from __future__ import annotations

import logging
import sys

import typer

from keel.cli.common import KeelGroup, guard_process
from keel.cli.data import data_app
from keel.cli.demo import demo_command
from keel.cli.export_sql import export_sql_command
from keel.cli.features import features_app
from keel.cli.infra import infra_app
from keel.cli.learning_curve import learning_curve_command
from keel.cli.models import models_app
from keel.cli.monitor import monitor_app
from keel.cli.predictions import predictions_app
from keel.cli.project import project_app
from keel.cli.quiet import quiet_after_import
from keel.cli.score import score_command
from keel.cli.serve import serve_command
from keel.cli.train import train_command
from keel.cli.ui import ui_command
from keel.feast_plumbing.feast_import import skip_typeguard_instrumentation

app = typer.Typer(
    help="Keel: Feast features, MLflow models, one serving hop.",
    no_args_is_help=True,
    cls=KeelGroup,
)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
models_app.command("export-sql")(export_sql_command)
app.add_typer(predictions_app, name="predictions")
app.add_typer(monitor_app, name="monitor")
app.add_typer(infra_app, name="infra")
app.add_typer(project_app, name="project")
app.command("train")(train_command)
app.command("learning-curve")(learning_curve_command)
app.command("serve")(serve_command)
app.command("score")(score_command)
app.command("demo")(demo_command)
app.command("ui")(ui_command)


DEFINING_COMMANDS = frozenset({"features", "demo"})
"""Commands that build a repo's Feast definitions in this process (`features apply`, the demo's
apply): Feast keeps typeguard's checks there (`features` decides per subcommand)."""


@app.callback()
def start_up(ctx: typer.Context) -> None:
    """Keep the terminal for Keel's own output: libraries' deprecation chatter is hidden (once
    they are imported: quick commands never import Feast or MLflow). Commands that only read
    Feast's registry import Feast without typeguard's instrumentation (4 s less per command)."""
    if ctx.invoked_subcommand not in DEFINING_COMMANDS:
        skip_typeguard_instrumentation()
    quiet_after_import()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    guard_process(check_production="--help" not in sys.argv[1:])  # help is never refused


if __name__ == "__main__":
    app()

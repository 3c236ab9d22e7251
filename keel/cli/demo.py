"""`keel demo`: the whole journey."""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from keel.cli.common import console, step_status, user_errors
from keel.core.settings import get_settings


def demo_command(
    customers: Annotated[int, typer.Option(help="Customers to generate.")] = 5000,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 180,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 42,
    fresh: Annotated[bool, typer.Option("--fresh", help="Wipe the workspace first.")] = False,
) -> None:
    """The whole journey: data, Feast, training, MLflow registry, a served logged prediction."""
    from keel.cli.demo_journey import next_steps, run_demo
    from keel.cli.render import data_table, model_train_summary, predictions_table
    from keel.core.settings import Settings
    from keel.core.workspace import Workspace

    settings = get_settings()
    console.rule(f"Keel demo in {settings.home} (profile {settings.profile})")
    started = time.monotonic()
    with user_errors(), step_status() as on_step:
        result = run_demo(
            settings, customers=customers, days=days, seed=seed, fresh=fresh, on_step=on_step
        )
    console.print(data_table(result.data))
    features = result.training.feature_columns
    service = settings.feature_service
    console.print(f"feature service {service}: {len(features)} features: {', '.join(features)}")
    model_train_summary(console, result.training)
    console.print(predictions_table(result.responses))
    log_path = Workspace.from_settings(settings).prediction_log
    console.print(f"prediction log: {result.logged_predictions} records in {log_path}")
    console.rule(f"done in {time.monotonic() - started:.0f} s")
    served = [r["customer_id"] for r in result.responses if r["status"] == 200]
    cwd = Path.cwd()
    steps = next_steps(
        settings,
        keel=_keel_command(cwd),
        customer_id=served[0] if served else 1,
        cwd=cwd,
        default_home=Settings.model_fields["home"].default.resolve(),
    )
    console.print("[bold]Try next[/]")
    for step in steps:
        console.print(f"  [dim]# {step.what}[/]", soft_wrap=True)
        console.print(f"  {step.command}", soft_wrap=True, markup=False, highlight=False)


def _keel_command(cwd: Path) -> str:
    """How to run this Keel from `cwd`: `keel` if it is the one on PATH, else its path."""
    script = Path(sys.executable).parent / "keel"
    on_path = shutil.which("keel")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "keel"
    shown = script.relative_to(cwd) if script.is_relative_to(cwd) else script
    return shlex.quote(str(shown))

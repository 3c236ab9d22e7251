"""`keel demo`: the whole journey."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from keel.cli.common import console, step_status, user_errors
from keel.settings import get_settings


def demo_command(
    customers: Annotated[int, typer.Option(help="Customers to generate.")] = 5000,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 180,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 42,
    fresh: Annotated[bool, typer.Option("--fresh", help="Wipe the workspace first.")] = False,
) -> None:
    """The whole journey: data, Feast, training, MLflow registry, a served logged prediction."""
    from keel.cli.render import data_table, predictions_table, train_summary
    from keel.demo import run_demo

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
    train_summary(console, result.training)
    console.print(predictions_table(result.responses))
    console.print(
        f"prediction log: {result.logged_predictions} records in "
        f"{settings.home / 'predictions' / 'predictions.db'}"
    )
    console.rule(f"done in {time.monotonic() - started:.0f} s")

"""The `keel` command line: each command parses options, calls one library function, renders."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console

from keel.errors import KeelError
from keel.settings import get_settings

app = typer.Typer(
    help="Keel: Feast features, MLflow models, one serving hop.", no_args_is_help=True
)
data_app = typer.Typer(help="Synthetic data.", no_args_is_help=True)
features_app = typer.Typer(help="The Feast feature repo.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")

console = Console()
EXIT_USAGE = 2
NOISY_LOGGERS = ("mlflow", "feast", "alembic", "urllib3", "httpx")


@app.callback()
def quiet_libraries() -> None:
    """Keep the terminal for Keel's own output: libraries' deprecation chatter is hidden."""
    import feast  # noqa: F401  (both reset warning filters or log levels on import)
    import mlflow  # noqa: F401

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*experimental.*", category=RuntimeWarning)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can fix become one red line and exit code 2, never a traceback."""
    try:
        yield
    except (KeelError, ValueError) as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(EXIT_USAGE) from None


@contextmanager
def step_status() -> Iterator[Callable[[str], None]]:
    """A spinner showing the current step, with each finished step ticked and timed."""
    started = time.monotonic()
    last: list[str] = []
    with console.status("starting") as status:

        def on_step(message: str) -> None:
            if last:
                console.print(f"[green]✓[/] {last[0]} [dim]({time.monotonic() - started:.1f} s)[/]")
                last.clear()
            last.append(message)
            status.update(message)

        yield on_step
    if last:
        console.print(f"[green]✓[/] {last[0]} [dim]({time.monotonic() - started:.1f} s)[/]")


@data_app.command("generate")
def data_generate(
    customers: Annotated[int, typer.Option(help="Exactly this many customers.")] = 5000,
    days: Annotated[int, typer.Option(help="Exactly this many simulated days.")] = 180,
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 42,
    churn_rate: Annotated[float, typer.Option(help="30-day churn probability.")] = 0.05,
    end: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Day after the last one.")
    ] = None,
) -> None:
    """Generate raw churn tables and the feature tables Feast reads."""
    from keel.cli.render import data_table
    from keel.data import generate_dataset

    end_day: date | None = end.date() if end else None
    with user_errors(), console.status("generating"):
        summary = generate_dataset(
            get_settings(),
            customers=customers,
            days=days,
            seed=seed,
            churn_rate=churn_rate,
            end=end_day,
        )
    console.print(data_table(summary))


@features_app.command("apply")
def features_apply() -> None:
    """Register entities, feature views and services in Feast's registry."""
    from keel.features import apply_definitions

    with user_errors(), console.status("feast apply"):
        applied = apply_definitions(get_settings())
    console.print(f"applied views {applied.feature_views + applied.on_demand_views}")
    console.print(f"feature services {applied.feature_services}")


@features_app.command("materialize")
def features_materialize() -> None:
    """Load the latest feature values into the online store."""
    from keel.features import materialize

    with user_errors():
        views = materialize(get_settings())
    console.print(f"materialized {views}")


@app.command("train")
def train_command(
    gate_margin: Annotated[
        float, typer.Option(help="PR AUC the model must add over the baseline.")
    ] = 0.0,
) -> None:
    """Train the baseline and logistic regression, register, gate and alias the model."""
    from keel.cli.render import train_summary
    from training.train import train

    with user_errors(), step_status() as on_step:
        result = train(get_settings(), gate_margin=gate_margin, on_step=on_step)
    train_summary(console, result)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve predictions of the champion model over HTTP."""
    import uvicorn

    from serving.app import create_app

    with user_errors():
        uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="warning")


@app.command("demo")
def demo(
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


if __name__ == "__main__":
    app()

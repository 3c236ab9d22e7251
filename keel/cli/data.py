"""`keel data …`: generate, describe, build the real table, synthesize, report."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from keel.cli.common import console, step_status, user_errors
from keel.settings import get_settings

data_app = typer.Typer(
    help="Data lab: generate (with scenarios), describe, real-table, synthesize, report.",
    no_args_is_help=True,
)


@data_app.command("generate")
def data_generate(
    customers: Annotated[int, typer.Option(help="Exactly this many customers.")] = 5000,
    days: Annotated[int, typer.Option(help="Exactly this many simulated days.")] = 180,
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 42,
    churn_rate: Annotated[float, typer.Option(help="30-day churn probability.")] = 0.05,
    end: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Day after the last one.")
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="Repeatable: none, price_shock, new_region, missing_logins, "
            "missing_at_random:RATE, label_noise:RATE, rare_churn:RATE, "
            "biased_sampling:region=X:keep=0.2 (see synthetic/README.md).",
        ),
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
            scenarios=tuple(scenario or ()),
        )
    console.print(data_table(summary))


@data_app.command("describe")
def data_describe(
    raw_dir: Annotated[
        Path | None, typer.Option("--dir", help="Raw tables directory (default: the workspace's).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Describe this one Parquet table instead (real or synthetic)."),
    ] = None,
) -> None:
    """Row counts, label rates, and per-column stats and null rates of the raw tables, or of
    one table with --file."""
    from keel.cli.data_render import description
    from keel.errors import InvalidInput
    from keel.workspace import Workspace
    from synthetic.describe import describe_directory, describe_file

    with user_errors():
        if file is not None and raw_dir is not None:
            raise InvalidInput("give --dir or --file, not both")
        if file is not None:
            described = describe_file(file)
        else:
            directory = raw_dir or Workspace.from_settings(get_settings()).raw_dir
            described = describe_directory(directory)
    description(console, described, labels=file is None)


@data_app.command("real-table")
def data_real_table(
    out: Annotated[Path, typer.Option(help="Labelled one-row-per-customer table.")],
    holdout_out: Annotated[
        Path | None, typer.Option(help="Also write a holdout the synthesizer must not see.")
    ] = None,
    holdout_share: Annotated[float, typer.Option(help="Share of customers held out.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the holdout split.")] = 0,
) -> None:
    """Features as of the latest snapshot plus the `churned` label, from the workspace."""
    from keel.data import write_real_table

    with user_errors():
        tables = write_real_table(
            get_settings(), out=out, holdout_out=holdout_out, holdout_share=holdout_share, seed=seed
        )
    rate = tables.real["churned"].mean()
    console.print(
        f"wrote {len(tables.real):,} rows x {tables.real.shape[1]} columns to {out} "
        f"(snapshot {tables.snapshot:%Y-%m-%d}, label rate {rate:.2%})"
        + (f"; holdout {len(tables.holdout):,} rows to {holdout_out}" if holdout_out else "")
    )


@data_app.command("synthesize")
def data_synthesize(
    source: Annotated[Path, typer.Option("--from", help="The real table (Parquet).")],
    rows: Annotated[int, typer.Option(help="Exactly this many synthetic rows.")],
    out: Annotated[Path, typer.Option(help="Where to write the synthetic table (Parquet).")],
    seed: Annotated[int, typer.Option(help="Same seed, same rows.")] = 0,
    by: Annotated[
        str | None,
        typer.Option(help="Fit one copula per value of this column (the label, typically)."),
    ] = None,
) -> None:
    """Fit a Gaussian copula on a table and sample exactly N rows from it."""
    from keel.cli.data_render import synthesis
    from synthetic.lab import synthesize_file

    with user_errors(), step_status() as on_step:
        result = synthesize_file(source, rows=rows, seed=seed, by=by, out=out, on_step=on_step)
    synthesis(console, result)


@data_app.command("report")
def data_report(
    real: Annotated[Path, typer.Option(help="The real table the synthesizer was fitted on.")],
    synthetic: Annotated[Path, typer.Option(help="The synthetic table.")],
    out: Annotated[Path, typer.Option(help="Self-contained HTML report.")],
    target: Annotated[
        str | None, typer.Option(help="Binary label column: enables the utility section.")
    ] = None,
    holdout: Annotated[
        Path | None, typer.Option(help="Real rows the synthesizer never saw (recommended).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the holdout split and attack samples.")] = 0,
    log_to_mlflow: Annotated[
        bool, typer.Option(help="Also log metrics and page to MLflow.")
    ] = False,
) -> None:
    """Fidelity, utility and privacy of a synthetic table, with a verdict per section; exit 1
    when the overall verdict is fail."""
    from keel.cli.data_render import report
    from synthetic.lab import report_files
    from synthetic.report import FAIL

    run_id = None
    with user_errors(), step_status() as on_step:
        result = report_files(
            real, synthetic, out=out, holdout=holdout, target=target, seed=seed, on_step=on_step
        )
        if log_to_mlflow:
            from keel.data import log_report_to_mlflow

            on_step("logging to MLflow")
            run_id = log_report_to_mlflow(get_settings(), result, real=real, synthetic=synthetic)
    report(console, result, run_id)
    if result.report.verdict == FAIL:
        raise typer.Exit(1)

"""`keel data …`: generate, describe, build the real table, synthesize, report."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from keel.cli.common import console, step_status, user_errors
from keel.core.settings import get_settings

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="NAME (its champion), NAME@alias or NAME/version: that version's training frame "
        "(default: keel.yaml's only model).",
    ),
]

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
    from synthetic.churn_dataset import generate_dataset

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
    from keel.core.errors import InvalidInput
    from keel.core.workspace import Workspace
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
    model: ModelOption = None,
) -> None:
    """A model's training frame (features and label, no keys or timestamps) with --model or a
    keel.yaml; without either, churn's features as of the latest snapshot plus `churned`, from
    the workspace."""
    from synthetic.churn_dataset import write_real_table

    with user_errors():
        ref = _model_ref(model)
        if ref is not None:
            _model_real_table(ref, out, holdout_out, holdout_share, seed)
            return
        tables = write_real_table(
            get_settings(), out=out, holdout_out=holdout_out, holdout_share=holdout_share, seed=seed
        )
    rate = tables.real["churned"].mean()
    console.print(
        f"wrote {len(tables.real):,} rows x {tables.real.shape[1]} columns to {out} "
        f"(snapshot {tables.snapshot:%Y-%m-%d}, label rate {rate:.2%})"
        + (f"; holdout {len(tables.holdout):,} rows to {holdout_out}" if holdout_out else "")
    )


def _model_ref(model: str | None) -> str | None:
    """The model a data-lab command works on: --model, else keel.yaml's only model; None
    without either (the churn workspace's tables)."""
    from keel.core.model_choice import chosen_model_ref
    from keel.core.project import discover_project

    if model is None and discover_project() is None:
        return None
    return chosen_model_ref(model, get_settings())


def _model_real_table(
    ref: str, out: Path, holdout_out: Path | None, holdout_share: float, seed: int
) -> None:
    from synthetic.churn_dataset import write_model_real_table

    tables = write_model_real_table(
        get_settings(),
        ref,
        out=out,
        holdout_out=holdout_out,
        holdout_share=holdout_share,
        seed=seed,
    )
    table = tables.table
    figure = "label rate" if table.task == "binary" else "label mean"
    value = f"{table.label_figure:.2%}" if table.task == "binary" else f"{table.label_figure:.4g}"
    console.print(
        f"wrote {len(tables.real):,} rows x {tables.real.shape[1]} columns to {out} "
        f"({table.model} version {table.version}, {figure} {value}, from {table.source})"
        + (f"; holdout {len(tables.holdout):,} rows to {holdout_out}" if holdout_out else "")
    )


@data_app.command("synthesize")
def data_synthesize(
    rows: Annotated[int, typer.Option(help="Exactly this many synthetic rows.")],
    out: Annotated[Path, typer.Option(help="Where to write the synthetic table (Parquet).")],
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="The real table (Parquet); without it, the model's training frame less the "
            "holdout `keel data report --model` keeps back.",
        ),
    ] = None,
    model: ModelOption = None,
    seed: Annotated[int, typer.Option(help="Same seed, same rows.")] = 0,
    by: Annotated[
        str | None,
        typer.Option(
            help="Fit one copula per value of this column (default with --model: a binary "
            "model's label)."
        ),
    ] = None,
) -> None:
    """Fit a Gaussian copula on a table (a file, or a model's training frame) and sample
    exactly N rows from it."""
    from keel.cli.data_render import synthesis
    from keel.core.errors import InvalidInput
    from synthetic.lab import synthesize_file, synthesize_frame

    with user_errors(), step_status() as on_step:
        if source is not None and model is not None:
            raise InvalidInput("give --from FILE or --model NAME, not both")
        ref = None if source is not None else _model_ref(model)
        if source is not None:
            result = synthesize_file(source, rows=rows, seed=seed, by=by, out=out, on_step=on_step)
        elif ref is None:
            raise InvalidInput("give --from FILE (the real table) or --model NAME")
        else:
            from synthetic.churn_dataset import model_real_tables

            on_step(f"reading the training frame of {ref}")
            tables = model_real_tables(get_settings(), ref)
            table = tables.table
            result = synthesize_frame(
                tables.real,
                source=f"{table.model} version {table.version}'s training frame",
                rows=rows,
                seed=seed,
                by=by if by is not None or table.task != "binary" else table.label,
                out=out,
                on_step=on_step,
            )
    synthesis(console, result)


@data_app.command("report")
def data_report(
    synthetic: Annotated[Path, typer.Option(help="The synthetic table.")],
    out: Annotated[Path, typer.Option(help="Self-contained HTML report.")],
    real: Annotated[
        Path | None,
        typer.Option(
            help="The real table the synthesizer was fitted on (default: the model's training "
            "frame as `keel data synthesize --model` used it, its holdout held out)."
        ),
    ] = None,
    model: ModelOption = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="Binary label column: enables the utility section (default with a model: a "
            "binary model's label)."
        ),
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
    from keel.core.errors import InvalidInput
    from synthetic.lab import ReportResult, report_files, report_frames
    from synthetic.tabular import read_table

    run_id = None
    with user_errors(), step_status() as on_step:
        if real is not None and model is not None:
            raise InvalidInput("give --real FILE or --model NAME, not both")
        ref = None if real is not None else _model_ref(model)
        result: ReportResult
        if real is not None:
            result = report_files(
                real, synthetic, out=out, holdout=holdout, target=target, seed=seed, on_step=on_step
            )
        elif ref is None:
            raise InvalidInput("give --real FILE (the real table) or --model NAME")
        else:
            from synthetic.churn_dataset import model_real_tables

            on_step(f"reading the training frame of {ref}")
            tables = model_real_tables(get_settings(), ref)
            table = tables.table
            name = f"{table.model} version {table.version}'s training frame"
            held = (
                (holdout, read_table(holdout))
                if holdout is not None
                else (f"{name} (holdout)", tables.holdout)
            )
            result = report_frames(
                (name, tables.real),
                synthetic=(synthetic, read_table(synthetic)),
                holdout=held,
                out=out,
                target=target if target is not None or table.task != "binary" else table.label,
                seed=seed,
                on_step=on_step,
            )
        if log_to_mlflow:
            from synthetic.churn_dataset import log_report_to_mlflow

            on_step("logging to MLflow")
            run_id = log_report_to_mlflow(
                get_settings(), result, real=real or str(ref), synthetic=synthetic
            )
    from synthetic.report import FAIL

    report(console, result, run_id)
    if result.report.verdict == FAIL:
        raise typer.Exit(1)

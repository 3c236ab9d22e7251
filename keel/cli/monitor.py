"""`keel monitor …`: validate inputs, drift against the training reference, live performance,
and the HTML report. Exit codes: 0 fine, 1 violations or drift found, 2 bad input."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keel.cli.common import console, user_errors
from keel.core.settings import get_settings

if TYPE_CHECKING:
    from monitoring.profile import ReferenceProfile

monitor_app = typer.Typer(
    help="Monitoring: validate, drift, performance, report (exit 1 when something is wrong).",
    no_args_is_help=True,
)

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="NAME@alias, NAME/version or NAME (its champion) whose training profile is the "
        "reference and whose log rows are read (default: keel.yaml's only model, or churn).",
    ),
]
ReferenceOption = Annotated[
    Path | None,
    typer.Option("--reference", help="A reference_profile.json instead of the model's."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
EXIT_FOUND = 1


def _model(model: str | None) -> str:
    from keel.core.model_choice import chosen_model_ref

    return chosen_model_ref(model, get_settings())


def _profile(model: str, reference: Path | None) -> ReferenceProfile:
    from monitoring.profile import ReferenceProfile, load_reference_profile

    if reference is not None:
        return ReferenceProfile.load(reference)
    # one small JSON file: MLflow's download progress bar would only clutter the terminal
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return load_reference_profile(get_settings(), model)


@monitor_app.command("validate")
def validate_command(
    input_path: Annotated[Path, typer.Option("--input", help="Parquet file of model inputs.")],
    model: ModelOption = None,
    reference: ReferenceOption = None,
    range_tolerance: Annotated[
        float, typer.Option(help="Allowed overshoot of the training range, as a share of it.")
    ] = 0.1,
    null_tolerance: Annotated[
        float, typer.Option(help="Allowed rise of a column's null rate over training's.")
    ] = 0.05,
    outlier_tolerance: Annotated[
        float,
        typer.Option(help="Share of a column's rows that may lie outside its range (noted)."),
    ] = 0.01,
    as_json: JsonOption = False,
) -> None:
    """Check every feature column against the expectations from the training profile."""
    from keel.cli.monitor_render import validation_table
    from keel.core.model_choice import model_name
    from monitoring.inputs import read_window
    from monitoring.validation import Expectations, validate_frame

    with user_errors():
        ref = _model(model)
        profile = _profile(ref, reference)
        expectations = Expectations.from_profile(
            profile,
            range_tolerance=range_tolerance,
            null_tolerance=null_tolerance,
            outlier_tolerance=outlier_tolerance,
        )
        window = read_window(input_path, profile, model=model_name(ref))
        report = validate_frame(window, expectations)
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        console.print(validation_table(report))
    if not report.ok:
        raise typer.Exit(EXIT_FOUND)


@monitor_app.command("drift")
def drift_command(
    current: Annotated[
        str,
        typer.Option(
            help="Parquet window (a prediction-log export or any file with the feature columns),"
            " or log:7d / log:24h / log:all for the model's rows of the prediction log."
        ),
    ],
    model: ModelOption = None,
    reference: ReferenceOption = None,
    small_window: Annotated[
        int, typer.Option(help="Rows up to which KS/chi-square are used.")
    ] = 1000,
    min_rows: Annotated[int, typer.Option(help="Fewer rows: too few to judge.")] = 200,
    p_value: Annotated[float, typer.Option(help="KS/chi-square: drift below this p.")] = 0.01,
    wasserstein: Annotated[float, typer.Option(help="Drift at this many reference sd.")] = 0.1,
    jensen_shannon: Annotated[float, typer.Option(help="Drift at this JS distance.")] = 0.1,
    psi: Annotated[float, typer.Option(help="Drift at this PSI.")] = 0.2,
    null_rate: Annotated[
        float, typer.Option(help="Drift when the null rate moves this much.")
    ] = 0.1,
    as_json: JsonOption = False,
) -> None:
    """Per-feature and score drift against the model's training profile; exit 1 on drift
    (a window below --min-rows is not judged: "too few rows", exit 0)."""
    from keel.cli.monitor_render import drift_table
    from keel.core.model_choice import model_name
    from monitoring.drift import DriftThresholds, compute_drift
    from monitoring.inputs import read_window
    from monitoring.log_window import resolve_current

    with user_errors():
        thresholds = DriftThresholds(
            small_window=small_window,
            min_rows=min_rows,
            p_value=p_value,
            wasserstein=wasserstein,
            jensen_shannon=jensen_shannon,
            psi=psi,
            null_rate=null_rate,
        )
        ref = _model(model)
        name = model_name(ref)
        profile = _profile(ref, reference)
        with tempfile.TemporaryDirectory() as scratch:
            path = resolve_current(get_settings(), current, Path(scratch), model=name)
            window = read_window(path, profile, model=name)
            report = compute_drift(profile, window, thresholds=thresholds)
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        console.print(drift_table(report))
    if report.drifted:
        raise typer.Exit(EXIT_FOUND)


@monitor_app.command("performance")
def performance_command(
    predictions: Annotated[
        str,
        typer.Option(
            help="Prediction-log export with feedback, or log:7d / log:24h / log:all for the "
            "model's rows of the prediction log."
        ),
    ] = "log:all",
    model: ModelOption = None,
    min_labels: Annotated[int, typer.Option(help="Fewer outcomes: no metrics, a note.")] = 50,
    min_per_class: Annotated[int, typer.Option(help="Binary: fewer of either class, a note.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Per model version and per day: PR AUC, ROC AUC, calibration and positive rates (binary);
    MAE, RMSE and bias over the feedback (regression)."""
    from keel.cli.monitor_render import any_performance_table
    from keel.core.model_choice import model_name
    from monitoring.inputs import predictions_task, read_predictions
    from monitoring.log_window import resolve_current
    from monitoring.performance import task_live_performance

    with user_errors():
        name = model_name(_model(model))
        with tempfile.TemporaryDirectory() as scratch:
            path = resolve_current(get_settings(), predictions, Path(scratch), model=name)
            frame = read_predictions(path, model=name)
        report = task_live_performance(
            frame, predictions_task(frame), min_labels=min_labels, min_per_class=min_per_class
        )
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        console.print(any_performance_table(report))


@monitor_app.command("report")
def report_command(
    current: Annotated[
        str,
        typer.Option(help="Parquet window of model inputs, or log:7d / log:24h / log:all."),
    ],
    out: Annotated[Path, typer.Option(help="The HTML page to write.")],
    model: ModelOption = None,
    reference: ReferenceOption = None,
    predictions: Annotated[
        str | None,
        typer.Option(help="Prediction-log export (or log:7d / log:all) for live performance."),
    ] = None,
    metrics_url: Annotated[
        str | None, typer.Option(help="A running server's /metrics, for the system view.")
    ] = None,
    log_to_mlflow: Annotated[
        bool, typer.Option("--log-to-mlflow", help="Also log the page and plots to MLflow.")
    ] = False,
) -> None:
    """One self-contained HTML page: drift, histograms, validation, scores, performance, system;
    exit 1 on drift or failed validation."""
    from keel.cli.monitor_render import drift_verdict
    from keel.core.model_choice import model_name
    from monitoring.log_window import resolve_current
    from monitoring.report import ReportInputs, log_report_to_mlflow, write_report

    settings = get_settings()
    with user_errors():
        ref = _model(model)
        name = model_name(ref)
        profile = _profile(ref, reference)
        with tempfile.TemporaryDirectory() as scratch:
            result = write_report(
                ReportInputs(
                    profile=profile,
                    current=resolve_current(settings, current, Path(scratch), model=name),
                    predictions=None
                    if predictions is None
                    else resolve_current(settings, predictions, Path(scratch), model=name),
                    metrics_url=metrics_url,
                    title=f"Monitoring report: {ref if reference is None else reference.name}",
                    model=name,
                ),
                out,
            )
        run_id = log_report_to_mlflow(settings, result) if log_to_mlflow else None
    validation = "[green]ok[/]" if result.validation.ok else "[red]failed[/]"
    console.print(f"wrote {out} ({drift_verdict(result.drift)}; validation {validation})")
    if run_id:
        console.print(f"logged to MLflow run {run_id}")
    if result.drift.drifted or not result.validation.ok:
        raise typer.Exit(EXIT_FOUND)

"""The monitoring report: one self-contained HTML page (PNG plots inlined as base64).

Sections, each an `<h2 id=…>`: drift (table and verdict), feature histograms (reference
against current), validation, score distribution, live performance over time, system view.
A section without input (no predictions file, no metrics URL) says so instead of vanishing.
"""

from __future__ import annotations

import base64
import html
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keel.core.atomic_files import write_text
from keel.core.settings import Settings
from monitoring.drift import SCORE_COLUMN, DriftReport, FeatureDrift, compute_drift
from monitoring.inputs import predictions_task, read_predictions, read_window
from monitoring.performance import (
    AnyPerformanceReport,
    PerformanceReport,
    RegressionPerformanceReport,
    task_live_performance,
)
from monitoring.plots import feature_histograms, live_performance_over_time, score_distribution
from monitoring.profile import ReferenceProfile
from monitoring.system import SystemView, fetch_metrics, parse_system_view, with_disk
from monitoring.validation import Expectations, ValidationReport, validate_frame

SECTIONS = ("drift", "histograms", "validation", "scores", "performance", "system")
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;color:#1f2328}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right} th{background:#f6f8fa}
td:first-child,th:first-child,td:last-child,th:last-child{text-align:left} img{max-width:100%}
.bad{color:#cf222e;font-weight:600} .good{color:#1a7f37;font-weight:600} .note{color:#57606a}
"""


@dataclass(frozen=True)
class ReportInputs:
    profile: ReferenceProfile
    current: Path
    predictions: Path | None = None
    metrics_url: str | None = None
    title: str = "Monitoring report"
    workspace: Path | None = None
    model: str | None = None
    """The model's name: only its rows of a prediction-log export are read."""


@dataclass(frozen=True)
class ReportResult:
    out: Path
    drift: DriftReport
    validation: ValidationReport
    performance: AnyPerformanceReport | None
    system: SystemView | None
    figures: dict[str, bytes] = field(default_factory=dict)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _verdict(bad: bool, bad_text: str, good_text: str) -> str:
    return (
        f"<span class='bad'>{bad_text}</span>" if bad else f"<span class='good'>{good_text}</span>"
    )


def _drift_row(f: FeatureDrift) -> list[str]:
    p_value = "—" if f.p_value is None else f"{f.p_value:.2g}"
    return [
        html.escape(f.name),
        f.kind,
        f.method,
        f"{f.statistic:.3f}",
        p_value,
        f"{f.psi:.3f}",
        f"{f.null_rate_reference:.1%} → {f.null_rate_current:.1%}",
        _verdict(f.drifted, "drift", "ok") if f.judged else "<span class='note'>—</span>",
        html.escape("; ".join(f.reasons)),
    ]


def drift_section(drift: DriftReport) -> str:
    rows = [_drift_row(f) for f in drift.features]
    if drift.score is not None:
        rows.append(_drift_row(drift.score))
    header = ["feature", "kind", "test", "statistic", "p", "PSI", "nulls", "verdict", "why"]
    overall = _verdict(drift.drifted, "DRIFT", "no drift")
    if drift.too_few_rows:
        overall = f"<span class='note'>{html.escape(drift.too_few_rows_reason)}</span>"
    t = drift.thresholds
    return (
        f"<h2 id='drift'>Drift: {overall}</h2><p>{drift.rows:,} current rows. Thresholds: "
        f"KS/chi-square p &lt; {t.p_value} up to {t.small_window:,} rows, else Wasserstein "
        f"≥ {t.wasserstein} sd / Jensen-Shannon ≥ {t.jensen_shannon}; PSI ≥ {t.psi}; null "
        f"rate moved ≥ {t.null_rate:.0%}; at least {t.min_rows:,} rows to judge.</p>"
        + _table(header, rows)
    )


def _ok_with_notes(notes: list[str]) -> str:
    return "ok" + (f" ({html.escape('; '.join(notes))}, within tolerance)" if notes else "")


def validation_section(report: ValidationReport) -> str:
    rows = [
        [
            html.escape(c.name),
            c.kind,
            f"{c.null_rate:.1%} ({c.reference_null_rate:.1%})",
            f"{c.not_typed:,}",
            f"{c.below:,}",
            f"{c.above:,}",
            _verdict(not c.ok, html.escape("; ".join(c.violations)), _ok_with_notes(c.notes)),
        ]
        for c in report.columns
    ]
    header = ["column", "kind", "nulls (ref)", "not typed", "below", "above", "result"]
    verdict = _verdict(not report.ok, f"{len(report.failing)} column(s) fail", "ok")
    return f"<h2 id='validation'>Validation: {verdict}</h2>" + _table(header, rows)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _live_rows(rows: Sequence[Any], figures: Sequence[tuple[str, str]]) -> str:
    """The live table: version, day, counts, then `figures` (attribute, heading) per row; a
    row with a note shows it in place of its first figure."""
    cells = [
        [
            html.escape(r.model_version),
            r.day,
            f"{r.predictions:,}",
            f"{r.labelled:,}",
            f"<span class='note'>{html.escape(r.note)}</span>"
            if r.note
            else _number(getattr(r, figures[0][0])),
            *(_number(getattr(r, name)) for name, _ in figures[1:]),
        ]
        for r in rows
    ]
    return _table(["version", "day", "predictions", "outcomes", *(h for _, h in figures)], cells)


def regression_performance_rows(report: RegressionPerformanceReport) -> str:
    """The regression model's live error table: MAE, RMSE and bias per version and day."""
    figures = [("mae", "MAE"), ("rmse", "RMSE"), ("bias", "bias")]
    figures += [("mean_prediction", "mean prediction"), ("mean_outcome", "mean outcome")]
    return _live_rows(report.rows, figures)


def performance_section(report: AnyPerformanceReport | None, figure: bytes | None) -> str:
    head = "<h2 id='performance'>Live performance</h2>"
    if report is None:
        return head + "<p class='note'>No prediction log given (--predictions).</p>"
    plot = _img(figure, "performance over time") if figure else ""
    if isinstance(report, RegressionPerformanceReport):
        return head + plot + regression_performance_rows(report)
    return head + plot + binary_performance_rows(report)


def binary_performance_rows(report: PerformanceReport) -> str:
    """The binary model's live table: PR AUC, ROC AUC, calibration and rates."""
    figures = [("pr_auc", "PR AUC"), ("roc_auc", "ROC AUC"), ("calibration_error", "ECE")]
    figures += [("observed_rate", "observed"), ("predicted_positive_rate", "predicted +")]
    return _live_rows(report.rows, figures)


def system_section(view: SystemView | None, url: str | None) -> str:
    head = "<h2 id='system'>System</h2>"
    if view is None:
        return head + "<p class='note'>No running server given (--metrics-url).</p>"

    def show(value: float | None, unit: str = "", scale: float = 1.0) -> str:
        return "not exported" if value is None else f"{value / scale:,.3g}{unit}"

    rows = [
        ["requests", show(view.requests)],
        [
            "by status",
            html.escape(", ".join(f"{k}: {v:,.0f}" for k, v in view.requests_by_status.items())),
        ],
        ["request rate", show(view.request_rate, " /s")],
        *[[f"latency {k}", show(v * 1000, " ms")] for k, v in view.latency_seconds.items()],
        ["CPU (share of one core since start)", show(view.cpu_share)],
        ["resident memory", show(view.rss_bytes, " MB", 1e6)],
        ["disk free (workspace)", show(view.disk_free_bytes, " GB", 1e9)],
    ]
    return head + f"<p>From {html.escape(url or '')}.</p>" + _table(["figure", "value"], rows)


def build_report(inputs: ReportInputs) -> tuple[str, ReportResult]:
    """Compute every section and the page; nothing is written."""
    profile = inputs.profile
    current = read_window(inputs.current, profile, model=inputs.model)
    drift = compute_drift(profile, current)
    validation = validate_frame(current, Expectations.from_profile(profile))
    figures = {
        "feature_histograms.png": feature_histograms(
            list(profile.features.values()), current, drifted=set(drift.drifted_features)
        )
    }
    regression = "task" in current.columns and predictions_task(current) == "regression"
    score_name = "prediction" if regression else "model score"
    if profile.score is not None and SCORE_COLUMN in current.columns:
        figures["score_distribution.png"] = score_distribution(
            profile.score, current[SCORE_COLUMN], title=score_name
        )
    performance = None
    if inputs.predictions is not None:
        predictions = read_predictions(inputs.predictions, model=inputs.model)
        performance = task_live_performance(predictions, predictions_task(predictions))
        figure = live_performance_over_time(performance)
        if figure:
            figures["performance_over_time.png"] = figure
    system = None
    if inputs.metrics_url:
        system = parse_system_view(fetch_metrics(inputs.metrics_url))
        system = with_disk(system, inputs.workspace or Path.cwd())
    scores = figures.get("score_distribution.png")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(inputs.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(inputs.title)}</h1>",
        f"<p>Reference: {profile.rows:,} training rows (profiled {profile.created_at}); "
        f"current: {html.escape(inputs.current.name)}, {len(current):,} rows.</p>",
        drift_section(drift),
        "<h2 id='histograms'>Feature histograms</h2>",
        _img(figures["feature_histograms.png"], "feature histograms"),
        validation_section(validation),
        f"<h2 id='scores'>Score distribution{' (the prediction)' if regression else ''}</h2>",
        _img(scores, "score distribution")
        if scores
        else "<p class='note'>No scores in the current window (no score column) "
        "or none in the reference profile.</p>",
        performance_section(performance, figures.get("performance_over_time.png")),
        system_section(system, inputs.metrics_url),
        "</body></html>",
    ]
    result = ReportResult(
        out=Path(),
        drift=drift,
        validation=validation,
        performance=performance,
        system=system,
        figures=figures,
    )
    return "\n".join(parts), result


def write_report(inputs: ReportInputs, out: Path) -> ReportResult:
    """Build the page and write it to `out` atomically."""
    page, result = build_report(inputs)
    write_text(out, page)
    return ReportResult(
        out=out,
        drift=result.drift,
        validation=result.validation,
        performance=result.performance,
        system=result.system,
        figures=result.figures,
    )


_DRIFT_TAGS = {"drift": "drift", "no drift": "ok"}
"""The `verdict.drift` tag: drift, ok, or "too few rows"."""


def log_report_to_mlflow(settings: Settings, result: ReportResult) -> str:
    """A run in `<project>-monitoring` with the page, the plots, drift metrics and verdicts."""
    from registry.client import ensure_experiment, mlflow_client

    client = mlflow_client(settings)
    experiment_id = ensure_experiment(settings, client, f"{settings.project}-monitoring")
    run = client.create_run(experiment_id, run_name=f"report {result.out.name}")
    run_id = str(run.info.run_id)
    for feature in result.drift.features:
        client.log_metric(run_id, f"psi.{feature.name}", feature.psi)
        client.log_metric(run_id, f"drift_statistic.{feature.name}", feature.statistic)
    client.log_metric(run_id, "drifted_features", float(len(result.drift.drifted_features)))
    drift = result.drift
    client.set_tag(run_id, "verdict.drift", _DRIFT_TAGS.get(drift.verdict, drift.verdict))
    client.set_tag(run_id, "verdict.validation", "ok" if result.validation.ok else "failed")
    client.log_artifact(run_id, str(result.out))
    with tempfile.TemporaryDirectory() as tmp:
        for file_name, png in result.figures.items():
            path = Path(tmp) / file_name
            path.write_bytes(png)
            client.log_artifact(run_id, str(path), artifact_path="plots")
    client.set_terminated(run_id)
    return run_id

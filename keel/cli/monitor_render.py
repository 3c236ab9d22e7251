"""Rich tables for `keel monitor …` (rendering only; the figures come from `monitoring`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from monitoring.drift import DriftReport, FeatureDrift
    from monitoring.performance import (
        AnyPerformanceReport,
        PerformanceReport,
        RegressionPerformanceReport,
    )
    from monitoring.validation import ValidationReport


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


_METHODS = {"ks": "KS", "chi2": "chi²", "wasserstein": "W (sd)", "jensen_shannon": "JS"}


def _drift_row(table: Table, f: FeatureDrift) -> None:
    verdict = "[red]drift[/]" if f.drifted else "[green]ok[/]" if f.judged else "[yellow]—[/]"
    test = f"{_METHODS.get(f.method, f.method)} {f.statistic:.3f}"
    if f.p_value is not None:
        test += f" p={f.p_value:.2g}"
    nulls = f"{f.null_rate_reference:.0%}→{f.null_rate_current:.0%}"
    table.add_row(f.name, test, _number(f.psi), nulls, verdict, "; ".join(f.reasons))


_OVERALL = {"drift": "[red]DRIFT[/]", "no drift": "[green]no drift[/]"}


def drift_verdict(report: DriftReport) -> str:
    """The overall verdict, marked up: DRIFT, no drift, or too few rows (with the counts)."""
    if report.too_few_rows:
        return f"[yellow]{report.too_few_rows_reason}[/]"
    return _OVERALL[report.verdict]


def drift_table(report: DriftReport) -> Table:
    overall = drift_verdict(report)
    table = Table(title=f"Drift of {report.rows:,} rows against the training reference: {overall}")
    table.add_column("feature", no_wrap=True)
    table.add_column("test", no_wrap=True)
    table.add_column("PSI", justify="right")
    table.add_column("nulls", justify="right", no_wrap=True)
    table.add_column("verdict")
    table.add_column("why", overflow="fold")
    for feature in report.features:
        _drift_row(table, feature)
    if report.score is not None:
        table.add_section()
        _drift_row(table, report.score)
    return table


def validation_table(report: ValidationReport) -> Table:
    verdict = "[green]ok[/]" if report.ok else f"[red]{len(report.failing)} column(s) fail[/]"
    table = Table(title=f"Validation of {report.rows:,} rows: {verdict}")
    table.add_column("column", no_wrap=True)
    for column in ("nulls (ref)", "not typed", "below", "above"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("violations", overflow="fold")
    for c in report.columns:
        table.add_row(
            c.name,
            f"{c.null_rate:.0%} ({c.reference_null_rate:.0%})",
            f"{c.not_typed:,}",
            f"{c.below:,}",
            f"{c.above:,}",
            _column_result(c.violations, c.notes),
        )
    return table


def _column_result(violations: list[str], notes: list[str]) -> str:
    """Red violations, else green ok, with out-of-range values within tolerance in yellow."""
    if violations:
        return "[red]" + escape("; ".join(violations)) + "[/]"
    if notes:
        return "[green]ok[/] [yellow](" + escape("; ".join(notes)) + ", within tolerance)[/]"
    return "[green]ok[/]"


_BINARY_COUNTS = {"predictions": "predictions", "outcomes": "labelled", "positives": "positives"}
_BINARY_METRICS = {"PR AUC": "pr_auc", "ROC AUC": "roc_auc", "ECE": "calibration_error"}
_BINARY_MEANS = {
    "mean score": "mean_score",
    "observed": "observed_rate",
    "predicted +": "predicted_positive_rate",
}
_REGRESSION_COUNTS = {"predictions": "predictions", "outcomes": "labelled"}
_REGRESSION_METRICS = {"MAE": "mae", "RMSE": "rmse", "bias": "bias"}
_REGRESSION_MEANS = {"mean pred": "mean_prediction", "mean outcome": "mean_outcome"}


def _live_table(
    rows: Sequence[Any],
    *,
    counts: dict[str, str],
    metrics: dict[str, str],
    means: dict[str, str],
) -> Table:
    """One row per version and day (then its "all" section): counts, the task's metrics (or
    the row's note where they cannot be computed) and means. Each mapping: header -> attribute."""
    table = Table(title="Live performance (outcomes joined to predictions)")
    for column in ("version", "day", *counts, *metrics, *means):
        table.add_column(column, justify="left" if column in {"version", "day"} else "right")
    for r in rows:
        if r.day == "all":
            table.add_section()
        figures = (
            [f"[yellow]{r.note}[/]", *[""] * (len(metrics) - 1)]
            if r.note
            else [_number(getattr(r, name)) for name in metrics.values()]
        )
        table.add_row(
            r.model_version,
            r.day,
            *(f"{getattr(r, name):,}" for name in counts.values()),
            *figures,
            *(_number(getattr(r, name)) for name in means.values()),
        )
    return table


def performance_table(report: PerformanceReport) -> Table:
    return _live_table(
        report.rows, counts=_BINARY_COUNTS, metrics=_BINARY_METRICS, means=_BINARY_MEANS
    )


def regression_performance_table(report: RegressionPerformanceReport) -> Table:
    return _live_table(
        report.rows,
        counts=_REGRESSION_COUNTS,
        metrics=_REGRESSION_METRICS,
        means=_REGRESSION_MEANS,
    )


def any_performance_table(report: AnyPerformanceReport) -> Table:
    """The table that fits the report's task."""
    from monitoring.performance import RegressionPerformanceReport

    if isinstance(report, RegressionPerformanceReport):
        return regression_performance_table(report)
    return performance_table(report)

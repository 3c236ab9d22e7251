"""Rich renderings of the data lab's results (describe, synthesize, report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # only the types: the lab's modules import scikit-learn and matplotlib
    from synthetic.describe import Description
    from synthetic.lab import ReportResult, Synthesis

VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "red"}


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:,.4g}"


def description(console: Console, described: Description, *, labels: bool = True) -> None:
    """Rows per table, label rates (raw tables only, when ``labels``), and column stats."""
    rows = Table(title="Rows")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, count in described.rows.items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)
    summary = described.labels
    if labels and summary is None:
        console.print("label rate: no labelled snapshot fits in this window")
    elif labels and summary is not None:
        console.print(
            f"churn events: {summary.churned_in_window:,} of {summary.customers:,} customers "
            f"({summary.churned_share:.2%}) churned in the window; training labels (snapshot "
            f"every 30 days, churn within 30 days): {summary.snapshot_positives:,} of "
            f"{summary.snapshot_rows:,} snapshot rows ({summary.snapshot_label_rate:.2%})"
        )
    columns = Table(title="Columns")
    for header in ("table", "column", "dtype", "nulls", "null %", "distinct", "min", "max"):
        columns.add_column(header, justify="left" if header in {"table", "column"} else "right")
    columns.add_column("mean / top", justify="right")
    for c in described.columns:
        columns.add_row(
            c.table,
            c.column,
            c.dtype,
            f"{c.nulls:,}",
            f"{c.null_rate:.2%}",
            f"{c.distinct:,}",
            c.minimum or "",
            c.maximum or "",
            _number(c.mean) if c.mean is not None else (c.top or ""),
        )
    console.print(columns)


def synthesis(console: Console, result: Synthesis) -> None:
    console.print(
        f"wrote {result.rows:,} synthetic rows x {len(result.kinds)} columns to {result.out} "
        f"(fit {result.fit_seconds:.2f} s, sample {result.sample_seconds:.2f} s)"
    )
    ids = [c for c, k in result.kinds.items() if k == "id"]
    if ids:
        console.print(f"[dim]identifier columns renumbered, not modelled: {', '.join(ids)}[/]")


def report(console: Console, result: ReportResult, run_id: str | None) -> None:
    table = Table(title=f"Synthetic data report: {result.out}")
    table.add_column("section")
    table.add_column("verdict")
    table.add_column("why")
    for section in result.report.sections:
        style = VERDICT_STYLE.get(section.verdict, "white")
        table.add_row(section.name, f"[{style}]{section.verdict}[/]", "\n".join(section.reasons))
    console.print(table)
    if not result.report.holdout_given:
        console.print(
            "[yellow]privacy measured without a holdout:[/] a seeded 20% of the real table "
            "stood in for unseen rows, although the synthesizer saw them; pass --holdout "
            "(`keel data real-table --holdout-out`) for a privacy verdict you can rely on"
        )
    verdict = result.report.verdict
    console.print(
        f"overall: [{VERDICT_STYLE[verdict]}]{verdict}[/] ({result.seconds:.1f} s)"
        + (f"; MLflow run {run_id}" if run_id else "")
    )

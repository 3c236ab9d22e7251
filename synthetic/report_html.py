"""The report as one self-contained HTML page: verdicts, tables, and PNG plots inlined as base64."""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from synthetic.report import FAIL, PASS, Report
from synthetic.tabular import Kind, as_labels, as_numbers

_COLOURS = {PASS: "#1a7f37", "warn": "#9a6700", FAIL: "#cf222e"}
_REAL, _SYNTHETIC = "#4c72b0", "#dd8452"
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#1f2328}
h1{margin-bottom:.2em} table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right} th{background:#f6f8fa}
td:first-child,th:first-child{text-align:left} .badge{color:#fff;padding:2px 8px;
border-radius:4px;font-weight:600;text-transform:uppercase;font-size:.85em} img{max-width:100%}
"""


def render_html(report: Report, real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    """The whole page as a string (no external resources)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Synthetic data report</title><style>{_STYLE}</style></head><body>",
        f"<h1>Synthetic data report {_badge(report.verdict)}</h1>",
        "<p>"
        + ", ".join(f"{k}: {v:,} rows" for k, v in report.rows.items())
        + "."
        + (
            ""
            if report.holdout_given
            else " No holdout given: a seeded 20% of the real table"
            " stood in for it, although the synthesizer saw those rows."
        )
        + "</p>",
        _summary(report),
        _fidelity_section(report, real, synthetic),
        _utility_section(report),
        _privacy_section(report),
        "</body></html>",
    ]
    return "\n".join(parts)


def _badge(verdict: str) -> str:
    colour = _COLOURS.get(verdict, "#57606a")
    return f"<span class='badge' style='background:{colour}'>{html.escape(verdict)}</span>"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _png(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _summary(report: Report) -> str:
    rows = [
        [s.name, _badge(s.verdict), "<br>".join(html.escape(r) for r in s.reasons)]
        for s in report.sections
    ]
    return "<h2 id='verdicts'>Verdicts</h2>" + _table(["section", "verdict", "why"], rows)


def _fidelity_section(report: Report, real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    fid = report.fidelity
    rows = [
        [
            html.escape(c.column),
            c.kind.value,
            c.statistic,
            f"{c.distance:.3f}",
            f"{c.null_rate_real:.1%}",
            f"{c.null_rate_synthetic:.1%}",
            "" if c.coverage is None else f"{c.coverage:.0%}",
            html.escape(", ".join(c.novel)),
        ]
        for c in fid.columns
    ]
    header = ["column", "kind", "stat", "distance", "null real", "null synth", "coverage", "novel"]
    return (
        "<h2 id='fidelity'>Fidelity</h2>"
        + _table(header, rows)
        + _png(_distributions(report, real, synthetic), "distributions, real vs synthetic")
        + _png(_correlations(report), "correlation matrices")
    )


def _utility_section(report: Report) -> str:
    use = report.utility
    if use is None:
        return "<h2 id='utility'>Utility</h2><p>Not computed: give <code>--target</code>.</p>"
    metrics = ["pr_auc", "roc_auc", "brier", "positive_rate"]
    rows = [["train real, test real (TRTR)", *(f"{use.trtr[m]:.4f}" for m in metrics)]]
    if use.tstr is not None:
        rows.append(["train synthetic, test real (TSTR)", *(f"{use.tstr[m]:.4f}" for m in metrics)])
    return (
        "<h2 id='utility'>Utility</h2>"
        f"<p>Logistic regression (Keel's training code) predicting <code>{html.escape(use.target)}"
        f"</code> = {html.escape(use.positive)} on {use.test_rows:,} real holdout rows; "
        f"PR AUC ratio TSTR/TRTR <b>{use.pr_auc_ratio:.2f}</b>.</p>"
        + _table(["model", *metrics], rows)
    )


def _privacy_section(report: Report) -> str:
    priv = report.privacy
    q = [0.05, 0.5]
    rows = [
        [
            "synthetic -> real",
            *(f"{np.quantile(priv.dcr_synthetic, p):.4f}" for p in q),
            f"{priv.exact_copy_rate:.2%}",
        ],
        [
            "holdout -> real",
            *(f"{np.quantile(priv.dcr_holdout, p):.4f}" for p in q),
            f"{priv.holdout_copy_rate:.2%}",
        ],
    ]
    risks = [
        [name]
        + (
            ["not computed", "", "", ""]
            if attack is None
            else [
                f"{attack.risk:.3f}",
                f"{attack.success_attacked:.3f}",
                f"{attack.success_control:.3f}",
                "yes" if attack.significant else "no",
            ]
        )
        for name, attack in (
            ("inference (secret: target)", priv.inference),
            ("linkability (columns split in halves)", priv.linkability),
        )
    ]
    singling = [
        [
            f"singling out, {so.mode} ({so.attacks} predicates)",
            f"{so.risk:.3f} ({so.ci[0]:.3f}-{so.ci[1]:.3f})",
            f"{so.attack_rate.value:.3f}",
            f"{so.baseline_rate.value:.3f}",
            "" if so.control is None else f"{so.control_attack_rate.value:.3f}",
            "" if so.control is None else f"{so.control_rate.value:.3f}",
            "yes" if so.significant else "no",
        ]
        for so in priv.singling_out
    ]
    fig, ax = plt.subplots(figsize=(7, 3))
    top = float(np.quantile(np.concatenate([priv.dcr_synthetic, priv.dcr_holdout]), 0.99)) or 1.0
    bins = np.linspace(0, top, 40).tolist()
    ax.hist(
        priv.dcr_holdout, bins=bins, density=True, alpha=0.6, label="holdout -> real", color=_REAL
    )
    ax.hist(
        priv.dcr_synthetic,
        bins=bins,
        density=True,
        alpha=0.6,
        label="synthetic -> real",
        color=_SYNTHETIC,
    )
    ax.set(xlabel="distance to closest real record (scaled)", ylabel="density")
    ax.legend()
    fig.tight_layout()
    return (
        "<h2 id='privacy'>Privacy</h2>"
        + _table(["distance to closest record", "5th pct", "median", "exact copies"], rows)
        + _table(
            ["attack", "risk (0-1)", "success on seen rows", "on holdout", "beyond chance"],
            risks,
        )
        + "<p>Singling out: predicates read off the synthetic table that isolate one synthetic "
        "row; success when one matches exactly one real row (the baseline guesses values at "
        "random). The risk compares, over real + holdout rows, predicates isolating one real "
        "row with what exchangeable rows give by chance (see synthetic/singling_out.py).</p>"
        + _table(
            [
                "attack",
                "risk (95% CI)",
                "singles out a real row",
                "baseline",
                "a real row, of real + holdout",
                "by chance",
                "beyond chance",
            ],
            singling,
        )
        + _png(fig, "distance to closest record")
    )


def _distributions(report: Report, real: pd.DataFrame, synthetic: pd.DataFrame) -> Figure:
    columns = [c.column for c in report.fidelity.columns]
    width = 4
    height = max(1, -(-len(columns) // width))
    fig, axes = plt.subplots(height, width, figsize=(3.2 * width, 2.4 * height), squeeze=False)
    for ax, column in zip(axes.flat, columns, strict=False):
        kind = report.kinds[column]
        if kind == Kind.CATEGORY:
            p = as_labels(real[column]).value_counts(normalize=True)
            q = (
                as_labels(synthetic[column])
                .value_counts(normalize=True)
                .reindex(p.index, fill_value=0)
            )
            x = np.arange(len(p))[:12]
            ax.bar(x - 0.2, p.to_numpy()[:12], 0.4, color=_REAL, label="real")
            ax.bar(x + 0.2, q.to_numpy()[:12], 0.4, color=_SYNTHETIC, label="synthetic")
            ax.set_xticks(x, [str(v)[:10] for v in p.index[:12]], rotation=30, fontsize=7)
        else:
            x_real, x_synth = as_numbers(real[column], kind), as_numbers(synthetic[column], kind)
            both = np.concatenate([x_real, x_synth])
            both = both[~np.isnan(both)]
            if both.size:
                low, high = np.quantile(both, [0.005, 0.995])
                bins = np.linspace(low, high if high > low else low + 1, 30).tolist()
                for values, colour, label in (
                    (x_real, _REAL, "real"),
                    (x_synth, _SYNTHETIC, "synthetic"),
                ):
                    ax.hist(
                        values[~np.isnan(values)],
                        bins=bins,
                        density=True,
                        alpha=0.55,
                        color=colour,
                        label=label,
                    )
            ax.tick_params(labelsize=7)
        ax.set_title(column, fontsize=9)
    for ax in list(axes.flat)[len(columns) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _correlations(report: Report) -> Figure:
    fid = report.fidelity
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    panels = (
        (fid.correlation_real, "real", "coolwarm", -1.0),
        (fid.correlation_synthetic, "synthetic", "coolwarm", -1.0),
        (fid.correlation_difference, "|difference|", "Reds", 0.0),
    )
    ticks = np.arange(len(fid.labels))
    for ax, (matrix, title, cmap, low) in zip(axes, panels, strict=True):
        image = ax.imshow(matrix, cmap=cmap, vmin=low, vmax=1.0)
        ax.set_title(f"Spearman correlation: {title}", fontsize=10)
        ax.set_xticks(ticks, fid.labels, rotation=90, fontsize=6)
        ax.set_yticks(ticks, fid.labels if ax is axes[0] else [], fontsize=6)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig

"""The synthetic-data lab on files: synthesize a table, and report on a synthetic table.

Each function reads Parquet, calls the pure parts (``copula``, ``report``), and writes its
result atomically; every file problem is an ``InvalidInput`` naming the file (and column).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from keel.core.atomic_files import write_text
from keel.core.errors import InvalidInput
from synthetic.copula import GaussianCopula
from synthetic.report import Report, build_report
from synthetic.report_html import render_html
from synthetic.tabular import Kind, column_kinds, read_table, write_table

Step = Callable[[str], None]


def _no_step(_: str) -> None:
    return None


@dataclass(frozen=True)
class Synthesis:
    out: Path
    rows: int
    kinds: dict[str, Kind]
    fit_seconds: float
    sample_seconds: float


@dataclass(frozen=True)
class ReportResult:
    report: Report
    out: Path
    seconds: float


def synthesize_file(
    source: Path,
    *,
    rows: int,
    seed: int,
    out: Path,
    by: str | None = None,
    on_step: Step = _no_step,
) -> Synthesis:
    """Fit a Gaussian copula on ``source`` (one per value of ``by``) and write exactly
    ``rows`` sampled rows to ``out``."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be an int >= 1, got {rows!r}")
    if Path(out).resolve() == Path(source).resolve():
        raise InvalidInput(f"{out}: refusing to overwrite the real table with synthetic rows")
    on_step(f"reading {source}")
    frame = read_table(source)
    return synthesize_frame(
        frame, source=str(source), rows=rows, seed=seed, out=out, by=by, on_step=on_step
    )


def synthesize_frame(
    frame: pd.DataFrame,
    *,
    source: str,
    rows: int,
    seed: int,
    out: Path,
    by: str | None = None,
    on_step: Step = _no_step,
) -> Synthesis:
    """`synthesize_file` on a table already read; `source` names it in errors."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be an int >= 1, got {rows!r}")
    kinds = column_kinds(frame, source=source)
    on_step(f"fitting a Gaussian copula on {len(frame):,} rows x {frame.shape[1]} columns")
    started = time.perf_counter()
    model = GaussianCopula(seed=seed, by=by).fit(frame, source=source)
    fitted = time.perf_counter()
    on_step(f"sampling {rows:,} rows")
    synthetic = model.sample(rows)
    sampled = time.perf_counter()
    on_step(f"writing {out}")
    write_table(synthetic, out)
    return Synthesis(
        out=Path(out),
        rows=len(synthetic),
        kinds=kinds,
        fit_seconds=fitted - started,
        sample_seconds=sampled - fitted,
    )


def report_files(
    real: Path,
    synthetic: Path,
    *,
    out: Path,
    holdout: Path | None = None,
    target: str | None = None,
    seed: int = 0,
    on_step: Step = _no_step,
) -> ReportResult:
    """Build the fidelity/utility/privacy report of ``synthetic`` against ``real``; write HTML."""
    on_step("reading the tables")
    return report_frames(
        (real, read_table(real)),
        synthetic=(synthetic, read_table(synthetic)),
        holdout=None if holdout is None else (holdout, read_table(holdout)),
        out=out,
        target=target,
        seed=seed,
        on_step=on_step,
    )


Named = tuple[Path | str, pd.DataFrame]
"""A table and what names it in messages (its file, or a description)."""


def report_frames(
    real: Named,
    *,
    synthetic: Named,
    holdout: Named | None,
    out: Path,
    target: str | None = None,
    seed: int = 0,
    on_step: Step = _no_step,
) -> ReportResult:
    """``report_files`` on tables already read, each with what names it in messages."""
    started = time.perf_counter()
    real_name, real_frame = real
    synthetic_name, synthetic_frame = synthetic
    holdout_frame = None if holdout is None else holdout[1]
    on_step("computing fidelity, utility and privacy")
    try:
        report = build_report(
            real_frame, synthetic_frame, holdout=holdout_frame, target=target, seed=seed
        )
    except InvalidInput as error:
        names = {
            "real table": real_name,
            "synthetic table": synthetic_name,
            "holdout table": None if holdout is None else holdout[0],
        }
        message = error.message
        for label, path in names.items():
            message = message.replace(label, str(path))
        raise InvalidInput(message) from None
    on_step(f"rendering {out}")
    page = render_html(report, real_frame, synthetic_frame)
    out = Path(out)
    write_text(out, page)
    return ReportResult(report=report, out=out, seconds=time.perf_counter() - started)

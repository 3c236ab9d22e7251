"""Data validation: the reference profile turned into expectations, checked per row or per file.

Expectations per feature: its type (number or text), a range (the reference min/max widened
by `range_tolerance` of the span on each side; a feature growing with time, `monitoring.ageing`,
has no bound in the direction it grows), the allowed categories (those seen in training), and
whether nulls are allowed (per row: only if training had any; per file: the null rate may
exceed the reference's by at most `null_tolerance`). Per file, a numeric column fails only when
more than `outlier_tolerance` of its rows (default 1%) fall outside the range: a handful of rare
but legitimate values beyond the one training snapshot's extremes is a note, not a failure.

`Expectations.violations(row)` is the serving hot path: pure Python over precomputed tuples,
a few microseconds per row; `validate_frame` is the vectorised version for files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from monitoring.profile import OTHER, ReferenceProfile


@dataclass(frozen=True)
class NumericExpectation:
    name: str
    low: float
    high: float
    nullable: bool
    reference_null_rate: float


@dataclass(frozen=True)
class CategoricalExpectation:
    name: str
    allowed: frozenset[str] | None
    """None when the reference pooled rare categories (any value may be legitimate)."""
    nullable: bool
    reference_null_rate: float


@dataclass(frozen=True)
class Expectations:
    """What each model input must look like, derived from a `ReferenceProfile`."""

    numeric: tuple[NumericExpectation, ...]
    categorical: tuple[CategoricalExpectation, ...]
    null_tolerance: float = 0.05
    outlier_tolerance: float = 0.01
    """Per file: the share of a column's rows that may lie outside its range (noted, not failed)."""

    @classmethod
    def from_profile(
        cls,
        profile: ReferenceProfile,
        *,
        range_tolerance: float = 0.1,
        null_tolerance: float = 0.05,
        outlier_tolerance: float = 0.01,
    ) -> Expectations:
        """Expectations of every profiled feature (`range_tolerance` is a share of the span)."""
        if range_tolerance < 0 or null_tolerance < 0 or not 0 <= outlier_tolerance < 1:
            raise ValueError(
                f"tolerances must be >= 0 (outliers below 1), got range {range_tolerance}, "
                f"null {null_tolerance}, outliers {outlier_tolerance}"
            )
        numeric: list[NumericExpectation] = []
        categorical: list[CategoricalExpectation] = []
        for name, feature in profile.features.items():
            nullable = feature.null_rate > 0
            if feature.kind == "numeric":
                low, high = feature.minimum, feature.maximum
                if low is None or high is None:
                    low, high = -math.inf, math.inf
                margin = (high - low) * range_tolerance
                if feature.grows_per_day:  # grows with time: no ceiling, or a floor if it shrinks
                    low, high = (low, math.inf) if feature.grows_per_day > 0 else (-math.inf, high)
                numeric.append(
                    NumericExpectation(
                        name, low - margin, high + margin, nullable, feature.null_rate
                    )
                )
            else:
                allowed = None if OTHER in feature.categories else frozenset(feature.categories)
                categorical.append(
                    CategoricalExpectation(name, allowed, nullable, feature.null_rate)
                )
        return cls(tuple(numeric), tuple(categorical), null_tolerance, outlier_tolerance)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.numeric] + [e.name for e in self.categorical]

    @cached_property
    def _checks(
        self,
    ) -> tuple[
        tuple[tuple[str, float, float, bool], ...],
        tuple[tuple[str, frozenset[str] | None, bool], ...],
    ]:
        """The expectations as plain tuples, for `violations`' loop."""
        numeric = tuple((n.name, n.low, n.high, n.nullable) for n in self.numeric)
        categorical = tuple((c.name, c.allowed, c.nullable) for c in self.categorical)
        return numeric, categorical

    def violations(self, row: Mapping[str, Any]) -> list[str]:
        """Names of the features of `row` that break an expectation (stable, low-cardinality:
        fit for a metric label). A missing key counts as null. See `explain` for the why.
        A number in range and an allowed text pass at once; anything else takes `explain`'s
        checks (no message is formatted)."""
        numeric, categorical = self._checks
        get = row.get
        found: list[str] = []
        for name, low, high, nullable in numeric:
            value = get(name)
            if (type(value) is float or type(value) is int) and low <= value <= high:
                continue
            if _numeric_problem(value, low, high, nullable) is not None:
                found.append(name)
        for name, allowed, nullable in categorical:
            value = get(name)
            if type(value) is str and (allowed is None or value in allowed):
                continue
            if _categorical_problem(value, allowed, nullable) is not None:
                found.append(name)
        return found

    def explain(self, row: Mapping[str, Any]) -> dict[str, str]:
        """Feature name -> what is wrong with its value, for the features of `row` that fail."""
        found: dict[str, str] = {}
        for n in self.numeric:
            problem = _numeric_problem(row.get(n.name), n.low, n.high, n.nullable)
            if problem is not None:
                found[n.name] = problem
        for c in self.categorical:
            problem = _categorical_problem(row.get(c.name), c.allowed, c.nullable)
            if problem is not None:
                found[c.name] = problem
        return found


def _numeric_problem(value: Any, low: float, high: float, nullable: bool) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None if nullable else "null"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return f"not a number: {value!r}"
    if not low <= value <= high:
        return f"{value} outside [{low:g}, {high:g}]"
    return None


def _categorical_problem(value: Any, allowed: frozenset[str] | None, nullable: bool) -> str | None:
    if value is None:
        return None if nullable else "null"
    if not isinstance(value, str):
        return f"not text: {value!r}"
    if allowed is not None and value not in allowed:
        return f"unknown category {value!r}"
    return None


@dataclass(frozen=True)
class ColumnValidation:
    """One column of a file against its expectation."""

    name: str
    kind: str
    rows: int
    null_rate: float
    reference_null_rate: float
    not_typed: int = 0
    below: int = 0
    above: int = 0
    unknown: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Out-of-range values within the file's outlier tolerance: shown, not failed."""

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    columns: list[ColumnValidation]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.columns)

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.columns if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "ok": self.ok,
            "failing": self.failing,
            "columns": [asdict(c) for c in self.columns],
        }


def _null_violation(name: str, rate: float, reference: float, tolerance: float) -> list[str]:
    if rate > reference + tolerance:
        return [f"null rate {rate:.1%} above the reference {reference:.1%} + {tolerance:.0%}"]
    return []


def _numeric_column(
    e: NumericExpectation, series: pd.Series, tolerance: float, outlier_tolerance: float
) -> ColumnValidation:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    null = series.isna().to_numpy()
    not_typed = int(np.sum(np.isnan(values) & ~null))
    rows = len(series)
    rate = float(null.mean()) if rows else 0.0
    below = int(np.sum(values < e.low))
    above = int(np.sum(values > e.high))
    problems = _null_violation(e.name, rate, e.reference_null_rate, tolerance)
    if not_typed:
        problems.append(f"{not_typed:,} value(s) not a number")
    outside = [f"{below:,} value(s) below {e.low:g}"] if below else []
    outside += [f"{above:,} value(s) above {e.high:g}"] if above else []
    within_tolerance = rows > 0 and (below + above) / rows <= outlier_tolerance
    notes = outside if within_tolerance else []
    problems += [] if within_tolerance else outside
    return ColumnValidation(
        e.name,
        "numeric",
        rows,
        rate,
        e.reference_null_rate,
        not_typed,
        below,
        above,
        {},
        problems,
        notes,
    )


def _categorical_column(
    e: CategoricalExpectation, series: pd.Series, tolerance: float
) -> ColumnValidation:
    rows = len(series)
    rate = float(series.isna().mean()) if rows else 0.0
    present = series.dropna()
    typed = present.map(lambda v: isinstance(v, str))
    not_typed = int((~typed).sum())
    unknown: dict[str, int] = {}
    if e.allowed is not None:
        counts = present[typed].value_counts()
        unknown = {str(k): int(v) for k, v in counts.items() if k not in e.allowed}
    problems = _null_violation(e.name, rate, e.reference_null_rate, tolerance)
    if not_typed:
        problems.append(f"{not_typed:,} value(s) not text")
    if unknown:
        listed = ", ".join(f"{k!r} ({v:,})" for k, v in sorted(unknown.items()))
        problems.append(f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {listed}")
    return ColumnValidation(
        e.name, "categorical", rows, rate, e.reference_null_rate, not_typed, 0, 0, unknown, problems
    )


def validate_frame(frame: pd.DataFrame, expectations: Expectations) -> ValidationReport:
    """Check every expected column of `frame` (a missing column is a violation of its own)."""
    columns: list[ColumnValidation] = []
    tolerance = expectations.null_tolerance
    for n in expectations.numeric:
        if n.name not in frame.columns:
            columns.append(_missing(n.name, "numeric", len(frame), n.reference_null_rate))
        else:
            columns.append(
                _numeric_column(n, frame[n.name], tolerance, expectations.outlier_tolerance)
            )
    for c in expectations.categorical:
        if c.name not in frame.columns:
            columns.append(_missing(c.name, "categorical", len(frame), c.reference_null_rate))
        else:
            columns.append(_categorical_column(c, frame[c.name], tolerance))
    order = {name: i for i, name in enumerate(frame.columns)}
    columns.sort(key=lambda c: order.get(c.name, len(order)))
    return ValidationReport(rows=len(frame), columns=columns)


def _missing(name: str, kind: str, rows: int, reference: float) -> ColumnValidation:
    return ColumnValidation(name, kind, rows, 1.0, reference, violations=["column missing"])

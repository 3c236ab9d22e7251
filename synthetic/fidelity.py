"""Fidelity: does the synthetic table look like the real one, column by column and jointly?

- per column: Kolmogorov-Smirnov statistic for numbers and datetimes (non-null values), total
  variation distance for categories (null counted as a category); the column's distance is the
  larger of that and the difference in null rates;
- jointly: the difference between the Spearman correlation matrices of the two tables
  (numbers ranked, categories one-hot on their most frequent real values);
- category coverage: the share of real categories (each categorical column's values) that the
  synthetic table contains, and the synthetic categories the real table never had.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from synthetic.tabular import Kind, as_labels, as_numbers

FloatArray = npt.NDArray[np.float64]
MAX_ONE_HOT = 10
"""Categories beyond a column's 10 most frequent real values share one indicator."""


@dataclass(frozen=True)
class ColumnFidelity:
    column: str
    kind: Kind
    statistic: str
    """``ks`` or ``tv``."""
    distance: float
    null_rate_real: float
    null_rate_synthetic: float
    coverage: float | None = None
    """Categories only: share of the real categories present in the synthetic column."""
    novel: tuple[str, ...] = ()
    """Categories only: synthetic values the real column never had."""


@dataclass(frozen=True)
class Fidelity:
    columns: list[ColumnFidelity]
    labels: list[str]
    """Names of the encoded variables behind the correlation matrices."""
    correlation_real: FloatArray
    correlation_synthetic: FloatArray

    @property
    def max_column_distance(self) -> float:
        return max((c.distance for c in self.columns), default=0.0)

    @property
    def mean_column_distance(self) -> float:
        return float(np.mean([c.distance for c in self.columns])) if self.columns else 0.0

    @property
    def correlation_difference(self) -> FloatArray:
        out: FloatArray = np.abs(self.correlation_real - self.correlation_synthetic)
        return out

    @property
    def mean_correlation_difference(self) -> float:
        """Mean absolute difference over the pairs (upper triangle) of the two matrices."""
        upper = np.triu_indices(len(self.labels), k=1)
        values = self.correlation_difference[upper]
        return float(values.mean()) if values.size else 0.0

    @property
    def category_coverage(self) -> float:
        """Share of all real categories (over every categorical column) seen in the synthetic."""
        covered = [c.coverage for c in self.columns if c.coverage is not None]
        return float(np.mean(covered)) if covered else 1.0

    @property
    def novel_categories(self) -> int:
        return sum(len(c.novel) for c in self.columns)


def fidelity(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, Kind]) -> Fidelity:
    """Compare the modelled columns (every kind but ``id``) of two tables with the same columns."""
    columns = [c for c, k in kinds.items() if k != Kind.ID]
    per_column = [_column(c, kinds[c], real[c], synthetic[c]) for c in columns]
    encoders = [_encoder(c, kinds[c], real[c]) for c in columns]
    labels = [label for encoder in encoders for label, _, _ in encoder]
    return Fidelity(
        columns=per_column,
        labels=labels,
        correlation_real=_spearman(real, encoders),
        correlation_synthetic=_spearman(synthetic, encoders),
    )


def _column(name: str, kind: Kind, real: pd.Series, synthetic: pd.Series) -> ColumnFidelity:
    null_real, null_synthetic = float(real.isna().mean()), float(synthetic.isna().mean())
    null_gap = abs(null_real - null_synthetic)
    if kind == Kind.CATEGORY:
        p = as_labels(real).value_counts(normalize=True)
        q = as_labels(synthetic).value_counts(normalize=True)
        support = p.index.union(q.index)
        tv = 0.5 * float(
            np.abs(p.reindex(support, fill_value=0) - q.reindex(support, fill_value=0)).sum()
        )
        return ColumnFidelity(
            column=name,
            kind=kind,
            statistic="tv",
            distance=max(tv, null_gap),
            null_rate_real=null_real,
            null_rate_synthetic=null_synthetic,
            coverage=float(p.index.isin(q.index).mean()),
            novel=tuple(sorted(str(v) for v in q.index.difference(p.index))),
        )
    x, y = as_numbers(real, kind), as_numbers(synthetic, kind)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size and y.size:
        ks = float(stats.ks_2samp(x, y, method="asymp").statistic)
    else:
        ks = float(x.size != y.size)  # all null on one side only: as far apart as can be
    return ColumnFidelity(
        column=name,
        kind=kind,
        statistic="ks",
        distance=max(ks, null_gap),
        null_rate_real=null_real,
        null_rate_synthetic=null_synthetic,
    )


Encoder = list[tuple[str, str, object]]
"""(label, column, how): how is None for a number/datetime column, else the category it
indicates (``...`` standing for "any other category")."""


def _encoder(name: str, kind: Kind, real: pd.Series) -> Encoder:
    if kind != Kind.CATEGORY:
        return [(name, name, None)]
    top = as_labels(real).value_counts().index[:MAX_ONE_HOT].tolist()
    encoder: Encoder = [(f"{name}={value}", name, value) for value in top]
    if as_labels(real).nunique() > MAX_ONE_HOT:
        encoder.append((f"{name}=other", name, ...))
    return encoder


def _spearman(frame: pd.DataFrame, encoders: list[Encoder]) -> FloatArray:
    """Spearman correlation of the encoded variables (constant variables correlate 0)."""
    variables: list[FloatArray] = []
    for encoder in encoders:
        _, name, how = encoder[0]
        column = frame[name]
        if how is None:
            kind = Kind.DATETIME if pd.api.types.is_datetime64_any_dtype(column) else Kind.NUMBER
            values = as_numbers(column, kind)
            present = ~np.isnan(values)
            fill = float(np.median(values[present])) if present.any() else 0.0
            variables.append(stats.rankdata(np.where(present, values, fill)))
            continue
        labels = as_labels(column)
        known = [value for _, _, value in encoder if value is not ...]
        for _, _, value in encoder:
            hit = ~labels.isin(known) if value is ... else labels == value
            variables.append(np.asarray(hit, dtype=np.float64))
    matrix = np.column_stack(variables)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.corrcoef(matrix, rowvar=False)
    correlation = np.atleast_2d(np.nan_to_num(correlation, nan=0.0))
    np.fill_diagonal(correlation, 1.0)
    return correlation

"""Drift statistics as pure functions on numpy arrays: no I/O, no thresholds.

The reference side of every statistic is a *summary* (what a `ReferenceProfile` stores), not
raw rows: numbers as a quantile sketch (`QUANTILE_LEVELS`) plus frequencies in bins cut at
reference quantiles, categories as frequencies. The current side is the raw window. KS and
Wasserstein computed against the sketch agree with scipy's on raw samples to about one
quantile step (0.01); the tests pin that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[Any]  # float or integer arrays (counts are integers)

QUANTILE_LEVELS: FloatArray = np.linspace(0.0, 1.0, 101)
"""Levels of the stored quantile sketch: the percentiles, min and max included."""
PSI_EPSILON = 1e-4
"""Frequencies are floored here before PSI's logarithm, so an empty bin costs a finite amount."""
_WASSERSTEIN_GRID = (np.arange(2000) + 0.5) / 2000


def quantile_sketch(values: FloatArray) -> FloatArray:
    """The values at `QUANTILE_LEVELS` (linear interpolation); `values` holds no NaN."""
    return np.quantile(values, QUANTILE_LEVELS)


def bin_edges(values: FloatArray, bins: int = 10) -> FloatArray:
    """Interior cut points at the reference's `bins`-quantiles, duplicates and cuts at the
    minimum dropped (so a feature with many ties gets fewer, wider bins, none empty)."""
    inner = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    return inner[inner > np.min(values)]


def bin_frequencies(values: FloatArray, edges: FloatArray) -> FloatArray:
    """Share of `values` in each bin: (-inf, e0), [e0, e1), ..., [e_last, inf)."""
    if len(values) == 0:
        return np.zeros(len(edges) + 1)
    index = np.searchsorted(edges, values, side="right")
    return np.bincount(index, minlength=len(edges) + 1) / len(values)


def with_missing(frequencies: FloatArray, null_rate: float) -> FloatArray:
    """Frequencies of the non-null values rescaled, and the null share appended as one bin."""
    return np.append(np.asarray(frequencies, dtype=float) * (1.0 - null_rate), null_rate)


def psi(expected: FloatArray, actual: FloatArray, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index: sum((a - e) * ln(a / e)) over bins, both floored at
    `epsilon`. Conventional reading: < 0.1 stable, 0.1-0.25 moderate, > 0.25 major shift."""
    e = np.maximum(np.asarray(expected, dtype=float), epsilon)
    a = np.maximum(np.asarray(actual, dtype=float), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def _sketch_cdf(sketch: FloatArray, x: FloatArray, *, side: str) -> FloatArray:
    """The reference CDF at `x` read off the quantile sketch (right limits with
    side="right", left limits with side="left"); linear between sketch points, so ties
    (a discrete feature) keep their jump."""
    levels = QUANTILE_LEVELS
    idx = np.searchsorted(sketch, x, side=side)  # type: ignore[call-overload]
    out = np.where(idx >= len(sketch), 1.0, 0.0)
    inner = (idx > 0) & (idx < len(sketch))
    lo = idx[inner] - 1
    span = sketch[lo + 1] - sketch[lo]
    frac = np.where(span > 0, (x[inner] - sketch[lo]) / np.where(span > 0, span, 1.0), 0.0)
    out[inner] = levels[lo] + np.clip(frac, 0.0, 1.0) * (levels[lo + 1] - levels[lo])
    return out


def ks_statistic(sketch: FloatArray, current: FloatArray) -> float:
    """Two-sample Kolmogorov-Smirnov D between the sketched reference and raw `current`."""
    if len(current) == 0:
        return 0.0
    ordered = np.sort(current)
    points = np.unique(np.concatenate([ordered, sketch]))
    n = len(ordered)
    right = np.abs(
        _sketch_cdf(sketch, points, side="right")
        - np.searchsorted(ordered, points, side="right") / n
    )
    left = np.abs(
        _sketch_cdf(sketch, points, side="left") - np.searchsorted(ordered, points, side="left") / n
    )
    return float(max(right.max(), left.max()))


def ks_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    """Smirnov's asymptotic two-sided p-value, as scipy's `ks_2samp(method="asymp")`."""
    if n_reference == 0 or n_current == 0:
        return 1.0
    m, n = sorted([float(n_reference), float(n_current)], reverse=True)
    from scipy.stats import kstwo  # 0.5 s to import: only drift checks pay it, not serving

    return float(kstwo.sf(statistic, np.round(m * n / (m + n))))


def wasserstein(sketch: FloatArray, current: FloatArray) -> float:
    """Earth mover's distance W1 = integral over u of |Q_ref(u) - Q_cur(u)|, on a 2,000-point
    grid of u (Q_ref interpolated in the sketch, Q_cur the empirical quantile function)."""
    if len(current) == 0:
        return 0.0
    reference_q = np.interp(_WASSERSTEIN_GRID, QUANTILE_LEVELS, sketch)
    current_q = np.quantile(current, _WASSERSTEIN_GRID, method="inverted_cdf")
    return float(np.mean(np.abs(reference_q - current_q)))


def normalized_wasserstein(sketch: FloatArray, current: FloatArray, reference_std: float) -> float:
    """W1 in units of the reference standard deviation (1.0 when the reference is constant)."""
    scale = reference_std if reference_std > 0 else 1.0
    return wasserstein(sketch, current) / scale


def jensen_shannon(expected: FloatArray, actual: FloatArray) -> float:
    """Jensen-Shannon *distance* (square root of the divergence), base 2: in [0, 1]; equals
    `scipy.spatial.distance.jensenshannon(p, q, base=2)`."""
    p = np.asarray(expected, dtype=float)
    q = np.asarray(actual, dtype=float)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: FloatArray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return float(np.sqrt(max((kl(p) + kl(q)) / 2, 0.0)))


def chi_square(
    expected: FloatArray, n_reference: int, actual_counts: FloatArray
) -> tuple[float, float]:
    """Chi-square test of homogeneity of the reference (frequencies x `n_reference`) and the
    current counts over the same categories: (statistic, p-value). Equals
    `scipy.stats.chi2_contingency([ref_counts, cur_counts], correction=False)`."""
    table = np.vstack([np.asarray(expected, dtype=float) * n_reference, actual_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[1].sum() == 0 or table[0].sum() == 0:
        return 0.0, 1.0
    totals = table.sum()
    fitted = np.outer(table.sum(axis=1), table.sum(axis=0)) / totals
    statistic = float(np.sum((table - fitted) ** 2 / fitted))
    dof = table.shape[1] - 1
    from scipy.stats import chi2

    return statistic, float(chi2.sf(statistic, dof))

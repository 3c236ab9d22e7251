"""Drift of a current window against the reference profile: per feature, the score, overall.

Per feature, three checks; any one of them flags drift:

- the distribution test, chosen by window size (`DriftThresholds.small_window`, 1,000 rows):
  small windows use a significance test, Kolmogorov-Smirnov (numbers) or chi-square
  (categories), drift when p < `p_value`; larger windows, where any test finds "significant"
  trivia, use an effect size: Wasserstein distance in reference standard deviations
  (numbers) or Jensen-Shannon distance (categories), drift at or above its threshold;
- PSI over the reference decile bins (numbers) or categories, nulls as one more bin,
  drift at or above `psi`;
- the null rate moved by `null_rate` or more (absolute).

The overall verdict is drift when any feature, or the score, drifts (exit code 1 in the CLI).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keel.errors import InvalidInput
from monitoring.drift_stats import (
    bin_frequencies,
    chi_square,
    jensen_shannon,
    ks_pvalue,
    ks_statistic,
    normalized_wasserstein,
    psi,
    with_missing,
)
from monitoring.profile import OTHER, SCORE, FeatureProfile, ReferenceProfile

SCORE_COLUMN = "churn_probability"
NULL = "(null)"


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature counts as drifted. Defaults were set on the generator's scenarios
    (see monitoring/README.md); change them per call or with `keel monitor drift` options."""

    small_window: int = 1000
    """At most this many current rows: significance tests; above: distances."""
    p_value: float = 0.01
    """KS / chi-square: drift when p is below this."""
    wasserstein: float = 0.1
    """Wasserstein distance in reference standard deviations: drift at or above this."""
    jensen_shannon: float = 0.1
    """Jensen-Shannon distance (base 2, in [0, 1]): drift at or above this."""
    psi: float = 0.2
    """Population stability index: drift at or above this (0.1-0.2 is often read as 'watch')."""
    null_rate: float = 0.1
    """Absolute change of the null rate: drift at or above this."""

    def __post_init__(self) -> None:
        if self.small_window < 0:
            raise ValueError(f"small_window must be >= 0, got {self.small_window}")
        for name in ("p_value", "wasserstein", "jensen_shannon", "psi", "null_rate"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} threshold must be > 0, got {value}")


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's (or the score's) drift figures and verdict."""

    name: str
    kind: str
    rows: int
    method: str
    statistic: float
    p_value: float | None
    psi: float
    null_rate_reference: float
    null_rate_current: float
    drifted: bool
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DriftReport:
    """The verdicts of one current window."""

    rows: int
    features: list[FeatureDrift]
    score: FeatureDrift | None
    thresholds: DriftThresholds

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_features) or bool(self.score and self.score.drifted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "drifted": self.drifted,
            "drifted_features": self.drifted_features,
            "features": [asdict(f) for f in self.features],
            "score": asdict(self.score) if self.score else None,
            "thresholds": asdict(self.thresholds),
        }


@dataclass(frozen=True)
class _Test:
    """The distribution test's outcome; `alarm` says why it fired (None: it did not)."""

    method: str
    statistic: float
    p_value: float | None
    alarm: str | None


NO_TEST = _Test("none", 0.0, None, None)


def _numeric_test(
    profile: FeatureProfile, present: np.ndarray, rows: int, thresholds: DriftThresholds
) -> _Test:
    sketch = np.asarray(profile.quantiles, dtype=float)
    if len(sketch) == 0 or len(present) == 0:
        return NO_TEST
    if rows <= thresholds.small_window:
        d = ks_statistic(sketch, present)
        p = ks_pvalue(d, profile.present, len(present))
        fired = p < thresholds.p_value
        return _Test("ks", d, p, f"KS p={p:.2g} < {thresholds.p_value}" if fired else None)
    w = normalized_wasserstein(sketch, present, profile.std or 0.0)
    fired = w >= thresholds.wasserstein
    alarm = f"Wasserstein {w:.3f} sd >= {thresholds.wasserstein}" if fired else None
    return _Test("wasserstein", w, None, alarm)


def numeric_drift(
    profile: FeatureProfile, series: pd.Series, thresholds: DriftThresholds
) -> FeatureDrift:
    """Drift of a numeric column against its profile (nulls: the null bin and null rate)."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = values[~np.isnan(values)]
    rows = len(values)
    null_rate = 1.0 - len(present) / rows if rows else 0.0
    test = _numeric_test(profile, present, rows, thresholds)
    edges = np.asarray(profile.bin_edges, dtype=float)
    expected = with_missing(np.asarray(profile.bin_frequencies or [1.0]), profile.null_rate)
    actual = with_missing(bin_frequencies(present, edges), null_rate)
    return _verdict(profile, rows, test, expected, actual, null_rate, thresholds)


def _category_counts(
    profile: FeatureProfile, series: pd.Series
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Categories (reference ones first, then novel ones, then null), reference shares, counts."""
    counts = series.dropna().astype(str).value_counts()
    novel = sorted(str(c) for c in counts.index if c not in profile.categories and c != OTHER)
    names = [*profile.categories, *novel, NULL]
    shares = np.array([profile.categories.get(c, 0.0) for c in names[:-1]], dtype=float)
    total = shares.sum()
    expected = with_missing(shares / total if total else shares, profile.null_rate)
    actual = np.array([float(counts.get(c, 0)) for c in names[:-1]] + [float(series.isna().sum())])
    return names, expected, actual


def _categorical_test(
    profile: FeatureProfile,
    expected: np.ndarray,
    counts: np.ndarray,
    rows: int,
    thresholds: DriftThresholds,
) -> _Test:
    if rows == 0:
        return NO_TEST
    if rows <= thresholds.small_window:
        statistic, p = chi_square(expected, profile.rows, counts)
        fired = p < thresholds.p_value
        alarm = f"chi-square p={p:.2g} < {thresholds.p_value}" if fired else None
        return _Test("chi2", statistic, p, alarm)
    js = jensen_shannon(expected, counts / rows)
    fired = js >= thresholds.jensen_shannon
    alarm = f"Jensen-Shannon {js:.3f} >= {thresholds.jensen_shannon}" if fired else None
    return _Test("jensen_shannon", js, None, alarm)


def categorical_drift(
    profile: FeatureProfile, series: pd.Series, thresholds: DriftThresholds
) -> FeatureDrift:
    """Drift of a categorical column (nulls count as one more category); novel categories
    are named, but drift only through the checks."""
    names, expected, counts = _category_counts(profile, series)
    rows = len(series)
    null_rate = float(series.isna().mean()) if rows else 0.0
    test = _categorical_test(profile, expected, counts, rows, thresholds)
    novel = [n for n, e, c in zip(names, expected, counts, strict=True) if e == 0 and c > 0]
    note = None
    if novel and novel != [NULL]:
        named = [n for n in novel if n != NULL]
        note = "new categor" + ("y " if len(named) == 1 else "ies ") + ", ".join(named)
    actual = counts / rows if rows else counts
    return _verdict(profile, rows, test, expected, actual, null_rate, thresholds, note=note)


def _verdict(
    profile: FeatureProfile,
    rows: int,
    test: _Test,
    expected: np.ndarray,
    actual: np.ndarray,
    null_rate: float,
    thresholds: DriftThresholds,
    *,
    note: str | None = None,
) -> FeatureDrift:
    """Add PSI and the null-rate check to the test; drift when any of the three fired."""
    alarms = [test.alarm] if test.alarm else []
    index = psi(expected, actual) if rows else 0.0
    if index >= thresholds.psi:
        alarms.append(f"PSI {index:.3f} >= {thresholds.psi}")
    if rows and abs(null_rate - profile.null_rate) >= thresholds.null_rate:
        alarms.append(f"null rate {profile.null_rate:.1%} -> {null_rate:.1%}")
    return FeatureDrift(
        name=profile.name,
        kind=profile.kind,
        rows=rows,
        method=test.method,
        statistic=float(test.statistic),
        p_value=test.p_value,
        psi=float(index),
        null_rate_reference=profile.null_rate,
        null_rate_current=null_rate,
        drifted=bool(alarms),
        reasons=([note] if note else []) + alarms,
    )


def feature_drift(
    profile: FeatureProfile, series: pd.Series, thresholds: DriftThresholds
) -> FeatureDrift:
    if profile.kind == "numeric":
        return numeric_drift(profile, series, thresholds)
    return categorical_drift(profile, series, thresholds)


def compute_drift(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    *,
    thresholds: DriftThresholds | None = None,
    scores: np.ndarray | None = None,
) -> DriftReport:
    """Every profiled feature of `current` against the reference; the score too when `scores`
    are given or `current` has a `churn_probability` column (a prediction-log export)."""
    thresholds = thresholds or DriftThresholds()
    missing = [name for name in profile.features if name not in current.columns]
    if missing:
        raise InvalidInput(
            f"current window lacks feature column(s) {', '.join(missing)} "
            f"(expected the model's features: {', '.join(profile.features)})"
        )
    results = [
        feature_drift(feature, current[name], thresholds)
        for name, feature in profile.features.items()
    ]
    score_drift = None
    if scores is None and SCORE_COLUMN in current.columns:
        scores = current[SCORE_COLUMN].to_numpy(dtype=float, na_value=np.nan)
    if profile.score is not None and scores is not None:
        score_drift = numeric_drift(profile.score, pd.Series(scores, name=SCORE), thresholds)
    return DriftReport(
        rows=len(current), features=results, score=score_drift, thresholds=thresholds
    )

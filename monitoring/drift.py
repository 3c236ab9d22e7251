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

A window of fewer than `DriftThresholds.min_rows` rows is not judged: its verdict is "too few
rows to judge" (PSI's sampling noise alone would pass the threshold). A feature declared as
growing with time (`monitoring.ageing`) drifts only if the window differs both from the
reference as it was and from the reference aged by each row's elapsed time.

The overall verdict is drift when any feature, or the score, drifts (exit code 1 in the CLI).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from keel.core.errors import InvalidInput
from monitoring.ageing import elapsed_days
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

SCORE_COLUMN = "score"
"""The score column of a prediction-log export (`serving.log_export`)."""
NULL = "(null)"


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature counts as drifted. Defaults were set on the generator's scenarios
    (see monitoring/README.md); change them per call or with `keel monitor drift` options."""

    small_window: int = 1000
    """At most this many current rows: significance tests; above: distances."""
    min_rows: int = 200
    """Fewer current rows: too few to judge. PSI over ~11 bins of n same-distribution rows is
    about chi-square(10)/n: at 100 rows it passes 0.2 for 3% of features, at 200 for none."""
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
        if self.min_rows < 1:
            raise ValueError(f"min_rows must be >= 1, got {self.min_rows}")
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
    judged: bool = True
    """False when the window had too few rows to judge (then `drifted` is False too)."""


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

    @property
    def too_few_rows(self) -> bool:
        return self.rows < self.thresholds.min_rows

    @property
    def verdict(self) -> str:
        """`too few rows`, `drift` or `no drift`."""
        if self.too_few_rows:
            return TOO_FEW_ROWS
        return "drift" if self.drifted else "no drift"

    @property
    def too_few_rows_reason(self) -> str:
        return (
            f"too few rows to judge: {self.rows:,} current row(s), "
            f"the statistics need at least {self.thresholds.min_rows:,}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "verdict": self.verdict,
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
TOO_FEW_ROWS = "too few rows"


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


def _unjudged(drift: FeatureDrift, reason: str) -> FeatureDrift:
    """The figures kept, the verdict withheld: too few rows to call anything drift."""
    return replace(drift, drifted=False, judged=False, reasons=[reason])


def growing_drift(
    profile: FeatureProfile,
    series: pd.Series,
    elapsed: np.ndarray | None,
    thresholds: DriftThresholds,
) -> FeatureDrift:
    """Drift of a feature that grows `profile.grows_per_day` per day: judged against the
    reference aged by each row's `elapsed` days, and against it as it was (a population whose
    newcomers replace its ageing members keeps its ages); drift only if both differ."""
    rate = profile.grows_per_day or 0.0
    as_is = numeric_drift(profile, series, thresholds)
    if elapsed is None:
        note = (
            f"grows {rate:g}/day, expected to move: the window has no time column to age "
            "the reference by"
        )
        return replace(as_is, reasons=[note, *as_is.reasons])
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    aged = numeric_drift(profile, pd.Series(values - rate * elapsed), thresholds)
    days = float(np.median(elapsed))
    if aged.drifted and not as_is.drifted:
        chosen, how = as_is, "matches the reference as it was"
    else:
        chosen, how = aged, "compared with the reference aged as much"
    note = f"grows {rate:g}/day; window {days:.0f} days after the reference, {how}"
    return replace(chosen, reasons=[note, *chosen.reasons])


def compute_drift(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    *,
    thresholds: DriftThresholds | None = None,
    scores: np.ndarray | None = None,
) -> DriftReport:
    """Every profiled feature of `current` against the reference; the score too when `scores`
    are given or `current` has a `score` column (a prediction-log export). Below
    `thresholds.min_rows` rows every verdict is withheld ("too few rows to judge")."""
    thresholds = thresholds or DriftThresholds()
    missing = [name for name in profile.features if name not in current.columns]
    if missing:
        raise InvalidInput(
            f"current window lacks feature column(s) {', '.join(missing)} "
            f"(expected the model's features: {', '.join(profile.features)})"
        )
    elapsed = elapsed_days(current, profile.as_of)
    results = [
        growing_drift(feature, current[name], elapsed, thresholds)
        if feature.grows_per_day
        else feature_drift(feature, current[name], thresholds)
        for name, feature in profile.features.items()
    ]
    score_drift = None
    if scores is None and SCORE_COLUMN in current.columns:
        scores = current[SCORE_COLUMN].to_numpy(dtype=float, na_value=np.nan)
    if profile.score is not None and scores is not None:
        score_drift = numeric_drift(profile.score, pd.Series(scores, name=SCORE), thresholds)
    report = DriftReport(
        rows=len(current), features=results, score=score_drift, thresholds=thresholds
    )
    if not report.too_few_rows:
        return report
    reason = report.too_few_rows_reason
    return replace(
        report,
        features=[_unjudged(f, reason) for f in results],
        score=_unjudged(score_drift, reason) if score_drift else None,
    )

"""The drift statistics agree with scipy's, and PSI behaves like a divergence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from monitoring.drift_stats import (
    bin_edges,
    bin_frequencies,
    chi_square,
    jensen_shannon,
    ks_pvalue,
    ks_statistic,
    psi,
    quantile_sketch,
    wasserstein,
    with_missing,
)

RNG = np.random.default_rng(7)
SAMPLES = {
    "normal, shifted": (RNG.normal(0, 1, 20_000), RNG.normal(0.3, 1.2, 3_000)),
    "normal, same": (RNG.normal(0, 1, 20_000), RNG.normal(0, 1, 800)),
    "heavy tail": (RNG.lognormal(1, 1, 20_000), RNG.lognormal(1.2, 1, 2_000)),
    "counts with ties": (RNG.poisson(0.4, 20_000), RNG.poisson(0.7, 1_500)),
    "zero-inflated": (
        RNG.exponential(5, 20_000) * (RNG.random(20_000) < 0.3),
        1.5 * RNG.exponential(5, 2_000) * (RNG.random(2_000) < 0.3),
    ),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_ks_from_the_sketch_matches_scipy_on_raw_samples(name: str) -> None:
    reference, current = SAMPLES[name]
    ours = ks_statistic(quantile_sketch(reference), current)
    assert ours == pytest.approx(ks_2samp(reference, current).statistic, abs=0.012)


def test_ks_pvalue_is_scipys_asymptotic_pvalue() -> None:
    reference, current = SAMPLES["normal, shifted"]
    expected = ks_2samp(reference, current, method="asymp")
    ours = ks_pvalue(float(expected.statistic), len(reference), len(current))
    assert ours == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_wasserstein_from_the_sketch_matches_scipy_on_raw_samples(name: str) -> None:
    reference, current = SAMPLES[name]
    ours = wasserstein(quantile_sketch(reference), current)
    assert ours == pytest.approx(
        wasserstein_distance(reference, current), abs=0.02 * reference.std()
    )


def test_jensen_shannon_is_scipys_base_2_distance() -> None:
    p, q = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.1, 0.3, 0.4, 0.2])
    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q, base=2), rel=1e-12)
    assert jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-7)
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_chi_square_is_scipys_test_of_homogeneity() -> None:
    shares = np.array([0.5, 0.3, 0.2, 0.0])
    counts = np.array([40.0, 35.0, 15.0, 10.0])
    statistic, p_value = chi_square(shares, 1_000, counts)
    table = np.vstack([shares * 1_000, counts])[:, [0, 1, 2, 3]]
    expected = chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)


def test_chi_square_of_one_category_says_nothing() -> None:
    assert chi_square(np.array([1.0, 0.0]), 100, np.array([30.0, 0.0])) == (0.0, 1.0)


def test_psi_is_zero_for_equal_distributions_and_grows_with_the_shift() -> None:
    base = np.array([0.25, 0.25, 0.25, 0.25])
    small = np.array([0.30, 0.25, 0.25, 0.20])
    large = np.array([0.55, 0.25, 0.15, 0.05])
    assert psi(base, base) == 0.0
    assert 0 < psi(base, small) < psi(base, large)
    # one bin of 10% -> 20%, one of 20% -> 10%: (0.1 ln 2) twice
    assert psi(np.array([0.1, 0.2, 0.7]), np.array([0.2, 0.1, 0.7])) == pytest.approx(
        2 * 0.1 * np.log(2)
    )


def test_psi_of_an_empty_reference_bin_is_finite() -> None:
    assert np.isfinite(psi(np.array([1.0, 0.0]), np.array([0.9, 0.1])))


def test_decile_bins_hold_a_tenth_each_and_ties_merge_bins() -> None:
    values = RNG.normal(size=10_000)
    edges = bin_edges(values)
    assert len(edges) == 9
    assert np.allclose(bin_frequencies(values, edges), 0.1, atol=0.002)
    counts = np.array([0] * 700 + [1] * 200 + [2] * 100, dtype=float)
    frequencies = bin_frequencies(counts, bin_edges(counts))
    assert frequencies.sum() == pytest.approx(1.0)
    assert frequencies[0] == pytest.approx(0.7)  # all the zeros share one bin


def test_nulls_become_one_more_bin() -> None:
    assert with_missing(np.array([0.5, 0.5]), 0.2).tolist() == pytest.approx([0.4, 0.4, 0.2])

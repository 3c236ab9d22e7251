"""Properties of the drift statistics (monitoring/drift_stats.py) on random samples."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from monitoring.drift_stats import (
    bin_edges,
    bin_frequencies,
    jensen_shannon,
    ks_statistic,
    normalized_wasserstein,
    psi,
    quantile_sketch,
    wasserstein,
)

FAST = settings(max_examples=40, deadline=None)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=5, max_size=300).map(np.array)


@st.composite
def distributions(draw: st.DrawFn, size: int | None = None) -> np.ndarray:
    """A probability vector (some bins may be empty, not all)."""
    k = size or draw(st.integers(2, 12))
    weights = np.array(draw(st.lists(st.integers(0, 100), min_size=k, max_size=k)), float)
    weights[draw(st.integers(0, k - 1))] += 1
    return weights / weights.sum()


@st.composite
def pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    k = draw(st.integers(2, 12))
    return draw(distributions(k)), draw(distributions(k))


@FAST
@given(pairs())
def test_psi_is_non_negative_symmetric_and_zero_only_for_the_same_distribution(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    p, q = pair
    assert psi(p, q) >= 0.0
    assert abs(psi(p, q) - psi(q, p)) < 1e-12
    assert psi(p, p) == 0.0
    if np.abs(p - q).max() > 1e-3:
        assert psi(p, q) > 0.0


@FAST
@given(samples)
def test_psi_of_a_sample_against_its_own_bins_is_zero(values: np.ndarray) -> None:
    edges = bin_edges(values)
    frequencies = bin_frequencies(values, edges)
    assert abs(frequencies.sum() - 1.0) < 1e-12
    assert psi(frequencies, bin_frequencies(values, edges)) == 0.0


@FAST
@given(pairs())
def test_jensen_shannon_is_a_bounded_symmetric_distance_equal_to_scipys(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    p, q = pair
    distance = jensen_shannon(p, q)
    assert 0.0 <= distance <= 1.0
    assert abs(distance - jensen_shannon(q, p)) < 1e-12
    assert jensen_shannon(p, p) < 1e-7
    assert abs(distance - float(jensenshannon(p, q, base=2))) < 1e-9
    disjoint = np.r_[p, np.zeros_like(q)], np.r_[np.zeros_like(p), q]
    assert abs(jensen_shannon(*disjoint) - 1.0) < 1e-9


@FAST
@given(samples, samples, st.floats(0.01, 100), finite)
def test_wasserstein_scales_with_the_data_and_ignores_shifts(
    reference: np.ndarray, current: np.ndarray, scale: float, shift: float
) -> None:
    distance = wasserstein(quantile_sketch(reference), current)
    assert distance >= 0.0
    scaled = wasserstein(quantile_sketch(reference * scale), current * scale)
    assert abs(scaled - scale * distance) <= 1e-9 * (1 + scale * distance + scale * 1e6)
    shifted = wasserstein(quantile_sketch(reference + shift), current + shift)
    assert abs(shifted - distance) <= 1e-6 * (1 + abs(shift) + 1e6)
    std = float(np.std(reference))
    if std > 1e-3:
        normalized = normalized_wasserstein(quantile_sketch(reference), current, std)
        rescaled = normalized_wasserstein(
            quantile_sketch(reference * scale), current * scale, std * scale
        )
        assert abs(rescaled - normalized) <= 1e-6 * (1 + normalized)


@FAST
@given(samples, samples)
def test_ks_is_in_the_unit_interval_and_small_on_the_reference_itself(
    reference: np.ndarray, current: np.ndarray
) -> None:
    sketch = quantile_sketch(reference)
    assert 0.0 <= ks_statistic(sketch, current) <= 1.0
    assert ks_statistic(sketch, reference) <= 0.02 + 1.0 / len(reference)

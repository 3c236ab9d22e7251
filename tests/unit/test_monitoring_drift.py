"""Drift verdicts: quiet on same-distribution windows, loud on shifts, new categories and nulls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keel.core.errors import InvalidInput
from monitoring.drift import DriftThresholds, compute_drift
from monitoring.profile import ReferenceProfile, build_reference_profile

FEATURES = ["region", "logins_7d", "spend_30d"]


def window(
    rows: int,
    seed: int,
    *,
    spend_factor: float = 1.0,
    central: float = 0.0,
    null_logins: float = 0.0,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    regions = rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2]).astype(object)
    regions[rng.random(rows) < central] = "central"
    logins = pd.array(rng.poisson(10, rows), dtype="Int64")
    logins[rng.random(rows) < null_logins] = pd.NA
    return pd.DataFrame(
        {
            "region": regions,
            "logins_7d": logins,
            "spend_30d": rng.lognormal(1, 1, rows) * spend_factor,
            "score": rng.beta(1, 12, rows),
        }
    )


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    reference = window(5_000, seed=0)
    return build_reference_profile(reference, FEATURES, reference["score"].to_numpy())


@pytest.mark.parametrize("rows", [300, 1_000, 5_000])
def test_a_window_from_the_reference_distribution_does_not_drift(
    profile: ReferenceProfile, rows: int
) -> None:
    report = compute_drift(profile, window(rows, seed=rows))
    assert not report.drifted, report.to_dict()
    assert report.score is not None and not report.score.drifted


def test_small_windows_use_significance_tests_and_large_ones_distances(
    profile: ReferenceProfile,
) -> None:
    small = compute_drift(profile, window(1_000, seed=1))
    large = compute_drift(profile, window(1_001, seed=1))
    assert [f.method for f in small.features] == ["chi2", "ks", "ks"]
    assert [f.method for f in large.features] == ["jensen_shannon", "wasserstein", "wasserstein"]
    assert all(f.p_value is not None for f in small.features)


@pytest.mark.parametrize("rows", [500, 5_000])
def test_a_price_shock_drifts_spend_only(profile: ReferenceProfile, rows: int) -> None:
    report = compute_drift(profile, window(rows, seed=3, spend_factor=1.5))
    assert report.drifted_features == ["spend_30d"]
    assert report.drifted


@pytest.mark.parametrize("rows", [500, 5_000])
def test_a_new_region_drifts_region_and_is_named(profile: ReferenceProfile, rows: int) -> None:
    report = compute_drift(profile, window(rows, seed=4, central=0.1))
    region = report.features[0]
    assert report.drifted_features == ["region"]
    assert "new category central" in region.reasons


def test_a_tracking_outage_drifts_through_the_null_rate(profile: ReferenceProfile) -> None:
    report = compute_drift(profile, window(2_000, seed=5, null_logins=0.9))
    logins = report.features[1]
    assert report.drifted_features == ["logins_7d"]
    assert logins.null_rate_current == pytest.approx(0.9, abs=0.03)
    assert any(reason.startswith("null rate") for reason in logins.reasons)


def test_score_drift_is_reported_separately(profile: ReferenceProfile) -> None:
    current = window(3_000, seed=6)
    current["score"] = np.clip(current["score"] * 3, 0, 1)
    report = compute_drift(profile, current)
    assert report.drifted_features == []
    assert report.score is not None and report.score.drifted
    assert report.drifted


def test_thresholds_are_configurable(profile: ReferenceProfile) -> None:
    current = window(5_000, seed=7, spend_factor=1.5)
    lenient = DriftThresholds(wasserstein=5.0, psi=5.0)
    assert not compute_drift(profile, current, thresholds=lenient).drifted
    with pytest.raises(ValueError, match="psi"):
        DriftThresholds(psi=0)


def test_json_output_names_every_feature(profile: ReferenceProfile) -> None:
    data = compute_drift(profile, window(500, seed=8, central=0.2)).to_dict()
    assert [f["name"] for f in data["features"]] == FEATURES
    assert data["drifted"] and data["drifted_features"] == ["region"]
    assert data["thresholds"]["small_window"] == 1000


def test_a_window_without_a_feature_is_refused(profile: ReferenceProfile) -> None:
    with pytest.raises(InvalidInput, match="spend_30d"):
        compute_drift(profile, window(100, seed=9).drop(columns=["spend_30d"]))


def test_a_one_row_window_is_too_few_rows_to_judge_not_drift(profile: ReferenceProfile) -> None:
    report = compute_drift(profile, window(1, seed=10))
    reason = "too few rows to judge: 1 current row(s), the statistics need at least 200"
    assert report.verdict == "too few rows"
    assert not report.drifted and report.drifted_features == []
    assert report.score is not None
    for feature in [*report.features, report.score]:
        assert (feature.judged, feature.drifted, feature.reasons) == (False, False, [reason])
    data = report.to_dict()
    assert (data["verdict"], data["drifted"], data["thresholds"]["min_rows"]) == (
        "too few rows",
        False,
        200,
    )


def test_the_minimum_rows_is_where_judging_starts(profile: ReferenceProfile) -> None:
    shocked = window(200, seed=11, spend_factor=3.0)
    assert compute_drift(profile, shocked.head(199)).verdict == "too few rows"
    judged = compute_drift(profile, shocked)
    assert judged.verdict == "drift" and "spend_30d" in judged.drifted_features
    lenient = DriftThresholds(min_rows=10)
    assert compute_drift(profile, shocked.head(50), thresholds=lenient).verdict == "drift"
    with pytest.raises(ValueError, match="min_rows must be >= 1, got 0"):
        DriftThresholds(min_rows=0)


def test_psi_cries_wolf_below_the_minimum_rows_and_not_at_it(profile: ReferenceProfile) -> None:
    """Why 200: on windows drawn from the reference itself, PSI alone passes its threshold for
    a third of the checks at 50 rows and for none at 200."""
    unguarded = DriftThresholds(min_rows=1)

    def psi_alarms(rows: int) -> float:
        checks = [
            feature
            for seed in range(50)
            for feature in compute_drift(
                profile, window(rows, seed=100 + seed), thresholds=unguarded
            ).features
        ]
        return sum(any(r.startswith("PSI") for r in f.reasons) for f in checks) / len(checks)

    assert psi_alarms(50) > 0.2
    assert psi_alarms(200) == 0.0

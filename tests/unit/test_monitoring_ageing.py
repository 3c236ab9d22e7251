"""Features that grow with time (tenure): a month-older window of unchanged customers is not
drift, a real change of the population still is; declared by a tag on the Feast view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feast import FeatureView, Field, FileSource
from feast.types import Float64

from keel.core.errors import InvalidInput
from monitoring.ageing import declared_growth, elapsed_days, parse_growth
from monitoring.drift import compute_drift
from monitoring.profile import ReferenceProfile, build_reference_profile
from monitoring.validation import Expectations

TRAINED = pd.Timestamp("2025-05-02", tz="UTC")
MONTH = pd.Timedelta(days=30)
ROWS = 2_000


def customers(seed: int = 0) -> pd.DataFrame:
    """Tenures as the generator draws them (signups over two years, recent ones more common):
    about 220 days of standard deviation, so a month of ageing is about 0.14 sd."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure_days": np.ceil(730 * rng.random(ROWS) ** 1.4),
            "logins_7d": rng.poisson(10, ROWS),
            "event_timestamp": TRAINED,
        }
    )


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return customers()


@pytest.fixture(scope="module")
def profile(reference: pd.DataFrame) -> ReferenceProfile:
    return build_reference_profile(
        reference, ["tenure_days", "logins_7d"], None, grows_per_day={"tenure_days": 1.0}
    )


def a_month_later(frame: pd.DataFrame) -> pd.DataFrame:
    """The same customers, unchanged, 30 days on: each tenure 30 days longer."""
    return frame.assign(
        tenure_days=frame["tenure_days"] + 30, event_timestamp=frame["event_timestamp"] + MONTH
    )


def test_profile_records_the_declared_growth_and_the_reference_time(
    profile: ReferenceProfile,
) -> None:
    assert profile.features["tenure_days"].grows_per_day == 1.0
    assert profile.features["logins_7d"].grows_per_day is None
    assert profile.as_of == "2025-05-02T00:00:00+00:00"
    assert ReferenceProfile.from_json(profile.to_json()) == profile


def test_a_profile_written_before_ageing_existed_still_loads() -> None:
    features = '[{"name": "x", "kind": "numeric", "rows": 3, "null_rate": 0.0}]'
    loaded = ReferenceProfile.from_json(
        f'{{"features": {features}, "score": null, "rows": 3, "created_at": "t", '
        '"format_version": 1}'
    )
    assert loaded.as_of is None and loaded.features["x"].grows_per_day is None


def test_a_month_older_window_of_unchanged_customers_is_not_drift(
    profile: ReferenceProfile, reference: pd.DataFrame
) -> None:
    report = compute_drift(profile, a_month_later(reference))
    tenure = report.features[0]
    assert report.verdict == "no drift", report.to_dict()
    assert tenure.statistic < 0.01  # aged, the window is the reference again
    assert tenure.reasons == [
        "grows 1/day; window 30 days after the reference, compared with the reference aged as much"
    ]


def test_the_same_month_was_drift_before_ageing(reference: pd.DataFrame) -> None:
    """The finding: without the declaration, a month of ageing alone is flagged."""
    undeclared = build_reference_profile(reference, ["tenure_days", "logins_7d"], None)
    report = compute_drift(undeclared, a_month_later(reference))
    assert report.drifted_features == ["tenure_days"]
    assert report.features[0].statistic == pytest.approx(30 / reference.tenure_days.std(), 0.1)


def test_a_population_that_kept_its_ages_is_not_drift_either(
    profile: ReferenceProfile, reference: pd.DataFrame
) -> None:
    """Newcomers replacing ageing customers can keep the ages as they were: no alarm."""
    report = compute_drift(profile, reference.assign(event_timestamp=TRAINED + MONTH))
    assert report.verdict == "no drift"
    assert "matches the reference as it was" in report.features[0].reasons[0]


def test_a_wave_of_new_customers_a_month_later_is_still_drift(
    profile: ReferenceProfile, reference: pd.DataFrame
) -> None:
    later = a_month_later(reference)
    newcomers = np.random.default_rng(1).integers(0, 30, ROWS * 3 // 10)
    later.loc[: len(newcomers) - 1, "tenure_days"] = newcomers
    report = compute_drift(profile, later)
    assert report.drifted_features == ["tenure_days"]
    assert report.features[0].statistic > 0.3  # Wasserstein, in reference sd


def test_customers_far_older_than_the_elapsed_time_are_drift(
    profile: ReferenceProfile, reference: pd.DataFrame
) -> None:
    later = a_month_later(reference).assign(tenure_days=lambda f: f.tenure_days + 200)
    assert compute_drift(profile, later).drifted_features == ["tenure_days"]


def test_a_window_without_times_names_tenure_as_expected_to_move(
    profile: ReferenceProfile, reference: pd.DataFrame
) -> None:
    report = compute_drift(profile, a_month_later(reference).drop(columns="event_timestamp"))
    tenure = report.features[0]
    assert tenure.reasons[0] == (
        "grows 1/day, expected to move: the window has no time column to age the reference by"
    )


def test_elapsed_days_are_per_row_and_read_prediction_log_times() -> None:
    frame = pd.DataFrame(
        {"created_at": pd.to_datetime(["2025-05-03 00:00", None, "2025-05-12 12:00"], utc=True)}
    )
    elapsed = elapsed_days(frame, "2025-05-02T00:00:00+00:00")
    assert elapsed is not None
    assert elapsed.tolist() == [1.0, 5.75, 10.5]  # a row without a time: the median
    assert elapsed_days(frame, None) is None
    assert elapsed_days(frame.rename(columns={"created_at": "t"}), "2025-05-02") is None


def test_growth_is_declared_by_a_tag_on_the_feast_view(tmp_path: Path) -> None:
    directory = tmp_path / "features"
    views = [
        FeatureView(
            name="ages",
            source=FileSource(path=str(directory / "ages.parquet"), timestamp_field="t"),
            schema=[Field(name="age_hours", dtype=Float64), Field(name="logins", dtype=Float64)],
            tags={"grows_per_day": "age_hours=24, tenure_days=1", "owner": "x"},
        ),
        FeatureView(
            name="other",
            source=FileSource(path=str(directory / "other.parquet"), timestamp_field="t"),
            tags={"owner": "x"},
        ),
    ]
    assert declared_growth(views) == {"age_hours": 24.0, "tenure_days": 1.0}


@pytest.mark.parametrize("text", ["tenure_days", "tenure_days=daily", "=1", "tenure_days=0"])
def test_a_malformed_growth_tag_names_the_view_and_the_expected_form(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_growth("customer_derived", text)
    assert str(refused.value) == (
        f"feature view customer_derived: tag grows_per_day={text!r} should read "
        "FEATURE=RATE[,FEATURE=RATE...] with a non-zero RATE per day, e.g. tenure_days=1"
    )


def test_the_churn_repo_declares_tenure_as_growing_one_a_day(tmp_path: Path) -> None:
    from feature_repo.definitions import build

    definitions = build(tmp_path)
    assert declared_growth([*definitions.feature_views, *definitions.on_demand_views]) == {
        "tenure_days": 1.0
    }


def test_validation_puts_no_ceiling_on_a_growing_feature(profile: ReferenceProfile) -> None:
    expectations = Expectations.from_profile(profile)
    oldest = profile.features["tenure_days"].maximum or 0.0
    assert expectations.violations({"tenure_days": oldest + 400, "logins_7d": 10}) == []
    assert expectations.violations({"tenure_days": -100.0, "logins_7d": 10}) == ["tenure_days"]

"""The honesty test: drift is flagged where the generator's scenarios change the data, and
rarely anywhere else.

For each seed, the same data is generated without a scenario and with each drift scenario
(they act on the last 30 days). Reference: the features as of the last training snapshot
(30 days before the end); current: the rows of the last 30 days (`synthetic.churn_windows`). A
flagged feature outside the scenario's footprint is a false alarm.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from feature_repo.tables import ACTIVITY_TABLE, PROFILE_TABLE, SUPPORT_TABLE
from monitoring.drift import DriftReport, compute_drift
from monitoring.profile import build_reference_profile
from synthetic.churn import GeneratorConfig, generate, write_raw_tables
from synthetic.churn_features import build_feature_tables
from synthetic.churn_windows import (
    current_window,
    features_as_of,
    pooled,
    reference_instants,
    reference_window,
)

pytestmark = pytest.mark.integration

SEEDS = (11, 12, 13)
FEATURES = [
    "plan", "region", "monthly_price", "logins_7d", "logins_30d", "logins_90d", "minutes_7d",
    "minutes_30d", "minutes_90d", "sessions_30d", "active_days_30d", "spend_30d", "spend_90d",
    "tickets_30d", "tickets_90d", "cancellation_tickets_30d", "tenure_days",
    "spend_per_session_30d", "login_trend",
]  # fmt: skip
HISTORY = {f for f in FEATURES if f.endswith(("_30d", "_90d"))} | {"tenure_days", "login_trend"}
# What each scenario changes (its footprint), and what must be caught at the least.
FOOTPRINT = {
    "none": set(),
    "price_shock": {"spend_30d", "spend_90d", "spend_per_session_30d"},
    # a cohort of new signups: new region, and young accounts in every history feature
    "new_region": {"region"} | HISTORY,
    "missing_logins": {"logins_7d", "logins_30d", "logins_90d", "active_days_30d", "login_trend"},
}
MUST_FLAG = {
    "none": set(),
    "price_shock": {"spend_30d", "spend_per_session_30d"},
    "new_region": {"region"},
    "missing_logins": {"logins_7d", "logins_30d", "active_days_30d", "login_trend"},
}
SMALL_WINDOW = 800
AS_OF = """
SELECT * EXCLUDE (event_timestamp) FROM read_parquet(?) WHERE event_timestamp <= ?
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY event_timestamp DESC) = 1
"""


def features_dir(root: Path, seed: int, scenario: str) -> Path:
    base = root / f"{seed}-{scenario}"
    config = GeneratorConfig(
        customers=2000,
        days=120,
        seed=seed,
        end=date(2025, 6, 1),
        scenarios=() if scenario == "none" else (scenario,),
    )
    write_raw_tables(generate(config), base / "raw")
    build_feature_tables(base / "raw", base / "features")
    return base / "features"


Runs = dict[tuple[int, str], tuple[DriftReport, DriftReport]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """(seed, scenario) -> drift of the whole current window, and of an 800-row sample."""
    root = tmp_path_factory.mktemp("scenarios")
    out: Runs = {}
    for seed in SEEDS:
        for scenario in FOOTPRINT:
            directory = features_dir(root, seed, scenario)
            profile = build_reference_profile(reference_window(directory), FEATURES, None)
            current = current_window(directory)
            sample = current.sample(SMALL_WINDOW, random_state=seed)
            out[seed, scenario] = (compute_drift(profile, current), compute_drift(profile, sample))
    return out


def false_alarm_rate(runs: Runs, which: int) -> float:
    alarms = checked = 0
    for (_, scenario), reports in runs.items():
        unaffected = set(FEATURES) - FOOTPRINT[scenario]
        alarms += len(unaffected & set(reports[which].drifted_features))
        checked += len(unaffected)
    return alarms / checked


@pytest.mark.parametrize("scenario", ["price_shock", "new_region", "missing_logins"])
def test_each_scenario_is_flagged_on_the_features_it_changes(runs: Runs, scenario: str) -> None:
    for seed in SEEDS:
        large, _ = runs[seed, scenario]
        assert large.drifted
        assert MUST_FLAG[scenario] <= set(large.drifted_features), (seed, large.drifted_features)


@pytest.mark.parametrize("scenario", ["new_region", "missing_logins"])
def test_small_windows_catch_a_new_category_and_an_outage(runs: Runs, scenario: str) -> None:
    for seed in SEEDS:
        _, small = runs[seed, scenario]
        assert small.features[0].method in {"chi2", "ks"}
        assert MUST_FLAG[scenario] <= set(small.drifted_features), (seed, small.drifted_features)


def test_false_alarms_on_unaffected_features_stay_under_5_percent(runs: Runs) -> None:
    assert false_alarm_rate(runs, 0) < 0.05
    assert false_alarm_rate(runs, 1) < 0.05


def test_no_scenario_means_no_drift_in_the_whole_window(runs: Runs) -> None:
    for seed in SEEDS:
        large, _ = runs[seed, "none"]
        assert len(large.drifted_features) <= 1, (seed, large.drifted_features)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return features_dir(tmp_path_factory.mktemp("baseline"), SEEDS[0], "none")


def test_window_rows_are_the_point_in_time_rows(baseline: Path) -> None:
    """The one-pass window equals a naive 'latest row at or before t' join, table by table."""
    at = reference_instants(baseline)[-1]
    window = features_as_of(baseline, at).set_index("customer_id")
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for table in (PROFILE_TABLE, ACTIVITY_TABLE, SUPPORT_TABLE):
            naive = con.execute(AS_OF, [str(baseline / table), at.to_pydatetime()]).df()
            naive = naive.set_index("customer_id").loc[window.index]
            columns = [c for c in naive.columns if c in window.columns]
            pd.testing.assert_frame_equal(window[columns], naive[columns], check_dtype=False)


def test_pooling_every_training_snapshot_would_flag_the_warm_up(baseline: Path) -> None:
    """Why the reference is the last snapshot: the first snapshots' 90-day windows hold only
    30 days (the warm-up), so a pooled reference sees 90-day features 'drift' with no scenario."""
    reference = pooled(baseline, reference_instants(baseline))
    profile = build_reference_profile(reference, FEATURES, None)
    report = compute_drift(profile, current_window(baseline))
    assert {"logins_90d", "minutes_90d"} <= set(report.drifted_features)

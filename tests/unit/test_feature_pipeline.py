from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keel.core.errors import InvalidInput, WorkspaceNotReady
from synthetic.churn_features import build_feature_tables

DAY = pd.Timedelta(days=1)


def _utc(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def _write_raw(raw: Path, activity: pd.DataFrame, tickets: pd.DataFrame) -> None:
    raw.mkdir(parents=True)
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "plan": ["basic", "premium"],
            "region": ["north", "south"],
            "signup_at": [_utc("2025-01-01 10:00:00"), _utc("2025-02-01")],
            "monthly_price": [9.0, 29.0],
        }
    )
    customers.to_parquet(raw / "customers.parquet")
    activity.to_parquet(raw / "activity.parquet")
    tickets.to_parquet(raw / "tickets.parquet")


@pytest.fixture
def raw_tables(tmp_path: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    days = pd.date_range("2025-03-01", periods=120, freq="D", tz="UTC")
    # Customer 2 has a 10-day gap: windows must be calendar ranges, not row counts.
    rows = [(1, d) for d in days] + [(2, d) for i, d in enumerate(days) if not 40 <= i < 50]
    activity = pd.DataFrame(rows, columns=["customer_id", "activity_date"])
    activity["logins"] = rng.poisson(2, len(activity)).astype("int64")
    activity["sessions"] = activity["logins"] + 1
    activity["minutes"] = rng.gamma(2.0, 5.0, len(activity))
    activity["spend"] = rng.gamma(1.0, 1.0, len(activity))
    tickets = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "opened_at": [
                _utc("2025-03-05 09:00"),
                _utc("2025-04-20 23:59"),
                _utc("2025-03-02 00:00"),
                _utc("2025-05-01 12:00"),
            ],
            "category": ["billing", "cancellation", "technical", "cancellation"],
        }
    )
    raw = tmp_path / "raw"
    _write_raw(raw, activity, tickets)
    return raw, activity, tickets


def _window_sum(
    activity: pd.DataFrame, customer: int, day: pd.Timestamp, column: str, days: int
) -> float:
    rows = activity[
        (activity.customer_id == customer)
        & (activity.activity_date > day - days * DAY)
        & (activity.activity_date <= day)
    ]
    return float(rows[column].sum())


def test_activity_windows_match_a_brute_force_calendar_sum(raw_tables, tmp_path: Path) -> None:
    raw, activity, _ = raw_tables
    built = build_feature_tables(raw, tmp_path / "features")
    table = pd.read_parquet(built.paths["customer_activity.parquet"])
    assert len(table) == len(activity)
    for row in table.sample(60, random_state=1).itertuples():
        day = row.event_timestamp - DAY
        assert row.logins_7d == _window_sum(activity, row.customer_id, day, "logins", 7)
        assert row.logins_30d == _window_sum(activity, row.customer_id, day, "logins", 30)
        assert row.minutes_90d == pytest.approx(
            _window_sum(activity, row.customer_id, day, "minutes", 90)
        )
        assert row.spend_30d == pytest.approx(
            _window_sum(activity, row.customer_id, day, "spend", 30)
        )


def test_a_day_is_visible_only_from_the_midnight_after_it(raw_tables, tmp_path: Path) -> None:
    raw, activity, _ = raw_tables
    built = build_feature_tables(raw, tmp_path / "features")
    table = pd.read_parquet(built.paths["customer_activity.parquet"])
    first = table[table.customer_id == 1].iloc[0]
    assert first.event_timestamp == activity.activity_date.min() + DAY
    assert str(table.event_timestamp.dt.tz) == "UTC"


def test_support_counts_tickets_and_cancellations_per_window(raw_tables, tmp_path: Path) -> None:
    raw, _, _ = raw_tables
    built = build_feature_tables(raw, tmp_path / "features")
    support = pd.read_parquet(built.paths["customer_support.parquet"]).set_index(
        ["customer_id", "event_timestamp"]
    )
    # Customer 1: billing ticket on 03-05, cancellation late on 04-20.
    assert support.loc[(1, _utc("2025-03-06")), "tickets_30d"] == 1
    assert support.loc[(1, _utc("2025-04-20")), "cancellation_tickets_30d"] == 0
    assert support.loc[(1, _utc("2025-04-21")), "cancellation_tickets_30d"] == 1
    assert support.loc[(1, _utc("2025-04-21")), "tickets_30d"] == 1
    assert support.loc[(1, _utc("2025-04-21")), "tickets_90d"] == 2


def test_profile_keeps_signup_as_unix_seconds(raw_tables, tmp_path: Path) -> None:
    raw, _, _ = raw_tables
    built = build_feature_tables(raw, tmp_path / "features")
    profile = pd.read_parquet(built.paths["customer_profile.parquet"])
    assert profile.loc[0, "signup_unix"] == int(_utc("2025-01-01 10:00:00").timestamp())
    assert list(profile.customer_id) == [1, 2]


def test_missing_column_error_names_file_and_column(raw_tables, tmp_path: Path) -> None:
    raw, activity, _ = raw_tables
    activity.drop(columns=["spend"]).to_parquet(raw / "activity.parquet")
    with pytest.raises(InvalidInput, match=r"activity\.parquet.*spend"):
        build_feature_tables(raw, tmp_path / "features")


def test_missing_raw_data_says_which_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotReady, match="keel data generate"):
        build_feature_tables(tmp_path / "nothing", tmp_path / "features")

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from training.labels import SnapshotPlan, label_snapshots, snapshot_times
from training.split import split_by_time


def _utc(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [1, 2, 3, 4],
        "signup_at": [
            _utc("2024-01-01"),
            _utc("2024-01-01"),
            _utc("2025-02-15"),
            _utc("2024-06-01"),
        ],
    }
)
CHURN = pd.DataFrame(
    {"customer_id": [1, 4], "churned_at": [_utc("2025-02-20 08:00"), _utc("2025-01-31 12:00")]}
)


def test_label_is_churn_within_the_horizon_after_the_snapshot() -> None:
    frame = label_snapshots(
        CUSTOMERS, CHURN, [_utc("2025-02-01"), _utc("2025-03-01")], horizon_days=30
    )
    by_key = frame.set_index(["customer_id", "event_timestamp"])["churned"]
    assert by_key[(1, _utc("2025-02-01"))] == 1  # churns 19 days later
    assert by_key[(2, _utc("2025-02-01"))] == 0
    assert (1, _utc("2025-03-01")) not in by_key.index  # already gone
    assert (3, _utc("2025-02-01")) not in by_key.index  # not yet a customer
    assert by_key[(3, _utc("2025-03-01"))] == 0
    assert 4 not in frame.customer_id.to_list()  # churned before every snapshot


def test_entity_frame_has_microsecond_utc_timestamps_and_request_time() -> None:
    frame = label_snapshots(CUSTOMERS, CHURN, [_utc("2025-02-01")], horizon_days=30)
    assert str(frame.event_timestamp.dtype) == "datetime64[us, UTC]"
    assert (frame.as_of_unix == int(_utc("2025-02-01").timestamp())).all()


def test_snapshots_leave_room_for_the_label_window() -> None:
    times = snapshot_times(_utc("2025-01-01"), _utc("2025-07-01"), SnapshotPlan())
    assert times[0] == _utc("2025-01-31")
    assert times[-1] <= _utc("2025-07-01") - pd.Timedelta(days=30)
    assert all(b - a == pd.Timedelta(days=30) for a, b in itertools.pairwise(times))


def test_plan_rejects_non_positive_days_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="horizon_days must be >= 1, got 0"):
        SnapshotPlan(horizon_days=0)


def test_time_split_trains_on_the_past_and_tests_on_the_last_snapshot() -> None:
    times = [_utc("2025-01-01") + pd.Timedelta(days=30 * i) for i in range(5)]
    frame = pd.DataFrame({"event_timestamp": [t for t in times for _ in range(3)], "x": range(15)})
    split = split_by_time(frame)
    assert split.train.event_timestamp.max() < split.valid.event_timestamp.min()
    assert split.valid.event_timestamp.max() < split.test.event_timestamp.min()
    assert set(split.test.event_timestamp) == {times[-1]}
    assert len(split.train) + len(split.valid) + len(split.test) == len(frame)


def test_time_split_needs_three_snapshots() -> None:
    frame = pd.DataFrame({"event_timestamp": [_utc("2025-01-01"), _utc("2025-02-01")]})
    with pytest.raises(ValueError, match="at least 3 snapshot times"):
        split_by_time(frame)

"""The churn example's label builder and model spec (`synthetic.churn_labels`): the table and
the keel.yaml-like model training reads."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from keel.core.errors import InvalidProject, WorkspaceNotReady
from keel.core.project import load_project
from keel.core.settings import Settings
from synthetic.churn_labels import (
    SnapshotPlan,
    churn_model,
    churn_snapshots,
    label_snapshots,
    snapshot_times,
    write_churn_labels,
)
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


def _raw_dir(tmp_path: Path) -> Path:
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    CUSTOMERS.to_parquet(raw / "customers.parquet")
    CHURN.to_parquet(raw / "churn_events.parquet")
    days = pd.date_range("2024-12-01", "2025-06-30", freq="D", tz="UTC")
    pd.DataFrame({"activity_date": days}).to_parquet(raw / "activity.parquet")
    return raw


def test_the_churn_example_writes_its_label_table_and_training_reads_it_back(
    tmp_path: Path,
) -> None:
    raw = _raw_dir(tmp_path)
    plan = SnapshotPlan(horizon_days=20, step_days=15)
    table = write_churn_labels(raw, plan)
    assert table.path == tmp_path / "data" / "labels" / "churn_h20_s15_w30.parquet"
    assert table.label == "churned"
    assert table.params == {"horizon_days": 20, "step_days": 15}
    assert table.rows == "snapshots" and table.tags == {}  # no generator manifest here
    read = pd.read_parquet(table.path)
    pd.testing.assert_frame_equal(read, churn_snapshots(raw, plan))
    assert list(read.columns) == ["customer_id", "event_timestamp", "churned", "as_of_unix"]
    assert str(read.event_timestamp.dtype) == "datetime64[us, UTC]"
    # Another plan, another file: the first is left as it was.
    other = write_churn_labels(raw)
    assert other.path.name == "churn_h30_s30_w30.parquet" and table.path.exists()


def test_the_label_table_needs_the_raw_tables_first(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotReady, match=r"customers\.parquet is missing"):
        write_churn_labels(tmp_path / "data" / "raw")


def test_the_churn_example_is_a_binary_model_spec_split_by_snapshot(tmp_path: Path) -> None:
    table = write_churn_labels(_raw_dir(tmp_path))
    spec = churn_model(Settings(home=tmp_path / "ws"), table)
    assert (spec.name, spec.feature_service, spec.task) == ("churn", "churn_v1", "binary")
    assert (spec.labels, spec.label) == (table.path, "churned")
    assert spec.split.by == "snapshots"
    assert spec.candidate_names == (
        "baseline",
        "one_rule",
        "logistic_regression",
        "gradient_boosting",
    )


def test_a_split_by_snapshots_takes_no_fractions(tmp_path: Path) -> None:
    path = tmp_path / "keel.yaml"
    model = "{name: m, feature_service: s, labels: l.parquet, label: y, task: binary, "
    path.write_text(f"feature_repo: repo\nmodels:\n  - {model}split: {{by: snapshots}}}}\n")
    assert load_project(path).model().split.by == "snapshots"
    path.write_text(
        f"feature_repo: repo\nmodels:\n  - {model}split: {{by: snapshots, test: 0.2}}}}\n"
    )
    with pytest.raises(InvalidProject, match=r"split: by: snapshots takes no fractions, got test"):
        load_project(path)

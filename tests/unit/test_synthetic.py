"""Specification of the synthetic churn generator: shape, schema, consistency, determinism
and the statistical properties the rest of Keel relies on (label rate, real signal)."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthetic.churn import TABLE_NAMES, GeneratorConfig, RawTables, generate, write_raw_tables

END = datetime.date(2025, 6, 1)
DEFAULTS = GeneratorConfig(end=END)
START = pd.Timestamp(DEFAULTS.start, tz="UTC")
DAY = pd.Timedelta(days=1)
UTC_US = pd.DatetimeTZDtype(unit="us", tz="UTC")

SCHEMAS: dict[str, dict[str, Any]] = {
    "customers": {
        "customer_id": np.dtype("int64"),
        "plan": np.dtype("O"),
        "region": np.dtype("O"),
        "signup_at": UTC_US,
        "monthly_price": np.dtype("float64"),
    },
    "activity": {
        "customer_id": np.dtype("int64"),
        "activity_date": UTC_US,
        "logins": np.dtype("int64"),
        "sessions": np.dtype("int64"),
        "minutes": np.dtype("float64"),
        "spend": np.dtype("float64"),
    },
    "tickets": {
        "ticket_id": np.dtype("int64"),
        "customer_id": np.dtype("int64"),
        "opened_at": UTC_US,
        "category": np.dtype("O"),
    },
    "churn_events": {"customer_id": np.dtype("int64"), "churned_at": UTC_US},
}
LABELS = {
    ("customers", "plan"): {"basic", "standard", "premium"},
    ("customers", "region"): {"north", "south", "east", "west"},
    ("tickets", "category"): {"billing", "technical", "account", "cancellation"},
}


@pytest.fixture(scope="module")
def tables() -> RawTables:
    return generate(DEFAULTS)


@pytest.fixture(scope="module")
def written(tables: RawTables, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_raw_tables(tables, tmp_path_factory.mktemp("raw") / "nested" / "dir")


def _customer_frame(tables: RawTables) -> pd.DataFrame:
    """customers joined with their churn time (NaT when they did not churn)."""
    return tables.customers.merge(tables.churn_events, on="customer_id", how="left")


def _file_hashes(paths: dict[str, Path]) -> dict[str, str]:
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in paths.items()}


def _thirty_day_label_rates(tables: RawTables, config: GeneratorConfig) -> list[float]:
    """Share of active customers churning within 30 days, for snapshots every 30 days."""
    frame = _customer_frame(tables)
    start = pd.Timestamp(config.start, tz="UTC")
    rates = []
    for offset in range(0, config.days - 29, 30):
        snapshot = start + offset * DAY
        churned_at = frame["churned_at"]
        active = (frame["signup_at"] < snapshot) & (churned_at.isna() | (churned_at >= snapshot))
        rates.append(float((churned_at[active] < snapshot + 30 * DAY).mean()))
    return rates


def test_customers_table_has_exactly_n_rows_with_ids_1_to_n(tables: RawTables) -> None:
    ids = tables.customers["customer_id"].to_numpy()
    assert len(ids) == DEFAULTS.customers
    np.testing.assert_array_equal(ids, np.arange(1, DEFAULTS.customers + 1))


def test_activity_covers_exactly_the_configured_days_ending_the_day_before_end(
    tables: RawTables,
) -> None:
    dates = tables.activity["activity_date"]
    assert dates.nunique() == DEFAULTS.days
    assert dates.min() == START
    assert dates.max() == pd.Timestamp(END, tz="UTC") - DAY
    assert (dates == dates.dt.floor("D")).all()


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_tables_have_exact_columns_and_dtypes(tables: RawTables, name: str) -> None:
    frame: pd.DataFrame = getattr(tables, name)
    assert frame.dtypes.to_dict() == SCHEMAS[name]
    assert list(frame.columns) == list(SCHEMAS[name])


@pytest.mark.parametrize(("name", "column"), sorted(LABELS))
def test_string_columns_hold_only_known_python_strings(
    tables: RawTables, name: str, column: str
) -> None:
    values = getattr(tables, name)[column]
    assert set(values) == LABELS[(name, column)]
    assert all(type(value) is str for value in values.unique())


def test_parquet_files_store_utc_microsecond_timestamps(written: dict[str, Path]) -> None:
    for name, path in written.items():
        schema = pq.read_schema(path)
        for column, dtype in SCHEMAS[name].items():
            if dtype == UTC_US:
                assert schema.field(column).type == pa.timestamp("us", tz="UTC")
        assert pd.read_parquet(path).dtypes.to_dict() == SCHEMAS[name]


def test_ids_and_keys_are_unique(tables: RawTables) -> None:
    assert tables.customers["customer_id"].is_unique
    np.testing.assert_array_equal(
        tables.tickets["ticket_id"], np.arange(1, len(tables.tickets) + 1)
    )
    assert tables.churn_events["customer_id"].is_unique
    assert not tables.activity.duplicated(["customer_id", "activity_date"]).any()


def test_rows_are_sorted_as_specified(tables: RawTables) -> None:
    activity = tables.activity
    expected = activity.sort_values(["customer_id", "activity_date"], kind="stable")
    assert activity.index.equals(expected.index)
    assert tables.tickets["opened_at"].is_monotonic_increasing


def test_event_timestamps_are_whole_seconds(tables: RawTables) -> None:
    for series in (tables.customers["signup_at"], tables.churn_events["churned_at"]):
        assert (series == series.dt.floor("s")).all()


def test_activity_has_one_row_per_active_day_and_none_before_signup_or_after_churn(
    tables: RawTables,
) -> None:
    frame = _customer_frame(tables)
    first = frame["signup_at"].dt.floor("D").clip(lower=START)
    last_day = pd.Timestamp(END, tz="UTC") - DAY
    last = frame["churned_at"].dt.floor("D").fillna(last_day)
    expected_rows = ((last - first) // DAY + 1).clip(lower=0)
    counts = tables.activity.groupby("customer_id").size()
    np.testing.assert_array_equal(counts.reindex(frame["customer_id"], fill_value=0), expected_rows)

    joined = tables.activity.merge(frame, on="customer_id")
    assert (joined["activity_date"] >= joined["signup_at"].dt.floor("D")).all()
    churned = joined["churned_at"].notna()
    assert (joined.loc[churned, "activity_date"] <= joined.loc[churned, "churned_at"]).all()


def test_zero_login_days_are_rows_with_zeros_and_sessions_cover_logins(tables: RawTables) -> None:
    activity = tables.activity
    assert (activity[["logins", "sessions", "minutes", "spend"]] >= 0).all().all()
    assert (activity["sessions"] >= activity["logins"]).all()
    idle = activity["sessions"] == 0
    assert idle.any()
    assert (activity.loc[idle, ["logins", "minutes", "spend"]] == 0).all().all()


def test_tickets_open_only_while_the_customer_is_active(tables: RawTables) -> None:
    joined = tables.tickets.merge(_customer_frame(tables), on="customer_id")
    assert (joined["opened_at"] >= joined["signup_at"]).all()
    assert (joined["opened_at"] >= START).all()
    assert (joined["opened_at"] < pd.Timestamp(END, tz="UTC")).all()
    churned = joined["churned_at"].notna()
    assert (joined.loc[churned, "opened_at"] <= joined.loc[churned, "churned_at"]).all()
    active_days = tables.activity.set_index(["customer_id", "activity_date"]).index
    ticket_days = pd.MultiIndex.from_arrays(
        [joined["customer_id"], joined["opened_at"].dt.floor("D")]
    )
    assert ticket_days.isin(active_days).all()


def test_churn_events_fall_inside_the_window(tables: RawTables) -> None:
    churned_at = tables.churn_events["churned_at"]
    assert len(churned_at) > 0
    assert churned_at.min() >= START
    assert churned_at.max() < pd.Timestamp(END, tz="UTC")


def test_most_customers_sign_up_before_the_window_and_the_rest_in_its_first_half(
    tables: RawTables,
) -> None:
    signup = tables.customers["signup_at"]
    before = signup < START
    assert 0.7 < before.mean() < 0.9
    assert signup.min() >= START - 731 * DAY
    assert (signup[~before] < START + (DEFAULTS.days // 2) * DAY).all()


def test_monthly_price_depends_on_plan_with_small_discounts(tables: RawTables) -> None:
    customers = tables.customers
    mean_price = customers.groupby("plan")["monthly_price"].mean()
    assert mean_price["basic"] < mean_price["standard"] < mean_price["premium"]
    list_price = customers.groupby("plan")["monthly_price"].transform("max")
    assert ((customers["monthly_price"] / list_price).between(0.55, 1.0)).all()


def test_write_raw_tables_writes_every_table_atomically_into_a_new_directory(
    tables: RawTables, written: dict[str, Path]
) -> None:
    assert set(written) == set(TABLE_NAMES)
    for name, path in written.items():
        assert path.name == f"{name}.parquet"
        pd.testing.assert_frame_equal(pd.read_parquet(path), getattr(tables, name))
    directory = next(iter(written.values())).parent
    expected = sorted(f"{name}.parquet" for name in TABLE_NAMES)
    assert sorted(path.name for path in directory.iterdir()) == expected


def test_same_seed_gives_byte_identical_parquet_files(
    written: dict[str, Path], tmp_path: Path
) -> None:
    again = write_raw_tables(generate(DEFAULTS), tmp_path)
    assert _file_hashes(again) == _file_hashes(written)


def test_different_seed_gives_different_data(tables: RawTables) -> None:
    other = generate(GeneratorConfig(seed=DEFAULTS.seed + 1, end=END))
    assert not other.activity.equals(tables.activity)
    assert not other.customers.equals(tables.customers)


@pytest.mark.parametrize("churn_rate", [0.05, 0.15])
def test_thirty_day_churn_rate_of_active_customers_matches_the_target(
    tables: RawTables, churn_rate: float
) -> None:
    config = GeneratorConfig(churn_rate=churn_rate, end=END)
    data = tables if config == DEFAULTS else generate(config)
    rates = _thirty_day_label_rates(data, config)
    assert len(rates) == DEFAULTS.days // 30
    assert np.mean(rates) == pytest.approx(churn_rate, rel=0.2)
    for rate in rates:
        assert rate == pytest.approx(churn_rate, rel=0.35)


def test_churners_log_in_less_in_the_two_weeks_before_churning(tables: RawTables) -> None:
    activity = tables.activity.merge(tables.churn_events, on="customer_id", how="left")
    churner = activity["churned_at"].notna()
    stayers_daily = activity[~churner].groupby("activity_date")["logins"].mean()
    churn_day = activity["churned_at"].dt.floor("D")
    date = activity["activity_date"]
    before = churner & (date >= churn_day - 14 * DAY) & (date < churn_day)
    churner_logins = activity.loc[before, "logins"].mean()
    stayer_logins = stayers_daily.reindex(activity.loc[before, "activity_date"]).mean()
    assert churner_logins < 0.75 * stayer_logins


def test_cancellation_tickets_often_precede_churn_by_a_few_days(tables: RawTables) -> None:
    cancels = tables.tickets[tables.tickets["category"] == "cancellation"]
    joined = tables.churn_events.merge(cancels, on="customer_id", how="left")
    lead = joined["churned_at"] - joined["opened_at"]
    warned = joined.loc[(lead > pd.Timedelta(0)) & (lead <= 14 * DAY), "customer_id"].nunique()
    assert warned / len(tables.churn_events) > 0.4


def test_technical_tickets_are_more_frequent_in_one_region(tables: RawTables) -> None:
    technical = tables.tickets[tables.tickets["category"] == "technical"]
    per_region = technical.merge(tables.customers, on="customer_id")["region"].value_counts()
    per_customer = per_region / tables.customers["region"].value_counts()
    assert per_customer.max() > 2 * per_customer.drop(per_customer.idxmax()).max()


def test_end_is_a_required_keyword() -> None:
    with pytest.raises(TypeError):
        GeneratorConfig()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"customers": 0}, "customers"),
        ({"customers": 2.5}, "customers"),
        ({"days": 0}, "days"),
        ({"days": True}, "days"),
        ({"seed": -1}, "seed"),
        ({"churn_rate": 0.0}, "churn_rate"),
        ({"churn_rate": 0.51}, "churn_rate"),
        ({"churn_rate": float("nan")}, "churn_rate"),
        ({"end": "2025-06-01"}, "end"),
        ({"end": datetime.datetime(2025, 6, 1)}, "end"),
    ],
)
def test_invalid_config_raises_value_error_naming_the_argument(
    changes: dict[str, Any], argument: str
) -> None:
    kwargs: dict[str, Any] = {"end": END, **changes}
    with pytest.raises(ValueError, match=rf"^{argument} .*got"):
        GeneratorConfig(**kwargs)


def test_value_error_message_shows_the_rejected_value() -> None:
    with pytest.raises(ValueError, match=r"customers must be >= 1, got 0"):
        GeneratorConfig(customers=0, end=END)

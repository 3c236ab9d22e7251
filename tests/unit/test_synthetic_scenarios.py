"""Specification of the generator's scenario catalogue: each scenario changes what it documents,
from when it documents, and nothing else; seeded; invalid scenarios are refused by name."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.settings import get_settings
from synthetic.churn import GeneratorConfig, RawTables, generate, write_raw_tables
from synthetic.churn_features import build_feature_tables
from synthetic.scenarios import SCENARIO_NAMES, parse_scenario, parse_scenarios

END = datetime.date(2025, 6, 1)
BASE = GeneratorConfig(customers=1500, days=120, seed=11, end=END)
DRIFT_START = pd.Timestamp(END, tz="UTC") - pd.Timedelta(days=30)
TABLES = ("customers", "activity", "tickets", "churn_events")


def _with(*scenarios: str) -> RawTables:
    return generate(dataclasses.replace(BASE, scenarios=scenarios))


@pytest.fixture(scope="module")
def base() -> RawTables:
    return generate(BASE)


def _assert_same(left: RawTables, right: RawTables, *, except_: tuple[str, ...] = ()) -> None:
    for name in TABLES:
        if name not in except_:
            pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name))


def _hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_scenario_none_writes_byte_identical_files_to_the_baseline(
    base: RawTables, tmp_path: Path
) -> None:
    write_raw_tables(base, tmp_path / "baseline")
    write_raw_tables(_with("none"), tmp_path / "none")
    assert _hashes(tmp_path / "none") == _hashes(tmp_path / "baseline")


def test_price_shock_multiplies_spend_in_the_last_30_days_only(base: RawTables) -> None:
    shocked = _with("price_shock")
    _assert_same(base, shocked, except_=("activity",))
    late = base.activity["activity_date"] >= DRIFT_START
    before, after = base.activity["spend"], shocked.activity["spend"]
    pd.testing.assert_series_equal(after[~late], before[~late])
    np.testing.assert_allclose(after[late], (before[late] * 1.5).round(2))
    assert (after[late] > before[late]).sum() > 1000
    other = shocked.activity.drop(columns="spend")
    pd.testing.assert_frame_equal(other, base.activity.drop(columns="spend"))


def test_price_shock_window_and_factor_are_parameters(base: RawTables) -> None:
    shocked = _with("price_shock:days=10:factor=0.5")
    late = base.activity["activity_date"] >= pd.Timestamp(END, tz="UTC") - pd.Timedelta(days=10)
    np.testing.assert_allclose(
        shocked.activity["spend"][late], (base.activity["spend"][late] * 0.5).round(2)
    )
    pd.testing.assert_series_equal(shocked.activity["spend"][~late], base.activity["spend"][~late])


def test_new_region_adds_a_cohort_that_signs_up_in_the_last_30_days(base: RawTables) -> None:
    grown = _with("new_region")
    customers = grown.customers
    new = customers[customers["region"] == "central"]
    assert len(new) == 150
    assert (new["signup_at"] >= DRIFT_START).all()
    assert new["customer_id"].min() == base.customers["customer_id"].max() + 1
    pd.testing.assert_frame_equal(customers.iloc[: len(base.customers)], base.customers)
    new_rows = grown.activity[grown.activity["customer_id"].isin(new["customer_id"])]
    assert len(new_rows) > 0
    assert (new_rows["activity_date"] >= DRIFT_START.floor("D")).all()
    assert grown.tickets["ticket_id"].tolist() == list(range(1, len(grown.tickets) + 1))
    assert grown.tickets["opened_at"].is_monotonic_increasing


def test_missing_logins_is_a_tracking_outage_of_most_customers_in_the_last_30_days(
    base: RawTables, tmp_path: Path
) -> None:
    outage = _with("missing_logins")
    logins = outage.activity["logins"]
    assert logins.dtype == pd.Int64Dtype()
    late = outage.activity["activity_date"] >= DRIFT_START
    assert logins[~late].notna().all()
    assert 0.85 < logins[late].isna().mean() < 0.95
    known = logins.notna()
    np.testing.assert_array_equal(logins[known], base.activity["logins"][known])
    # The feature pipeline still runs; logins_7d goes mostly null once 7 days are missing.
    write_raw_tables(outage, tmp_path / "raw")
    tables = build_feature_tables(tmp_path / "raw", tmp_path / "features")
    activity = pd.read_parquet(tables.paths["customer_activity.parquet"])
    week_in = activity["event_timestamp"] >= DRIFT_START + pd.Timedelta(days=7)
    assert activity.loc[week_in, "logins_7d"].isna().mean() > 0.8
    assert activity.loc[~week_in, "logins_7d"].notna().all()


def test_missing_at_random_nulls_each_documented_column_at_the_rate(base: RawTables) -> None:
    holed = _with("missing_at_random:0.1")
    columns = {
        "customers": ("plan", "region", "monthly_price"),
        "activity": ("logins", "sessions", "minutes", "spend"),
        "tickets": ("category",),
    }
    for table, names in columns.items():
        frame = getattr(holed, table)
        assert len(frame) == len(getattr(base, table))
        for name in names:
            assert frame[name].isna().mean() == pytest.approx(0.1, abs=0.025), (table, name)
        untouched = [c for c in frame.columns if c not in names]
        assert frame[untouched].notna().all().all()


def test_label_noise_flips_churn_records_and_leaves_behaviour_alone(base: RawTables) -> None:
    noisy = _with("label_noise:0.05")
    _assert_same(base, noisy, except_=("churn_events",))
    ids = base.customers["customer_id"]
    was = ids.isin(base.churn_events["customer_id"])
    now = ids.isin(noisy.churn_events["customer_id"])
    assert (was != now).mean() == pytest.approx(0.05, abs=0.015)
    added = noisy.churn_events.merge(base.customers, on="customer_id")
    assert (added["churned_at"] > added["signup_at"]).all()
    assert (added["churned_at"] < pd.Timestamp(END, tz="UTC")).all()


def test_rare_churn_overrides_the_churn_rate(base: RawTables) -> None:
    rare = _with("rare_churn:0.01")
    assert len(rare.churn_events) < 0.3 * len(base.churn_events)
    assert len(rare.churn_events) > 0


def test_biased_sampling_keeps_a_share_of_one_population_and_all_of_the_others(
    base: RawTables,
) -> None:
    biased = _with("biased_sampling:region=west:keep=0.2")
    before = base.customers["region"].value_counts()
    after = biased.customers["region"].value_counts()
    assert after["west"] == pytest.approx(0.2 * before["west"], abs=0.06 * before["west"])
    for region in ("north", "south", "east"):
        assert after[region] == before[region]
    kept = set(biased.customers["customer_id"])
    for name in ("activity", "tickets", "churn_events"):
        assert set(getattr(biased, name)["customer_id"]) <= kept


def test_scenarios_combine_deterministically_whatever_their_order() -> None:
    one = _with("label_noise:0.05", "price_shock", "new_region")
    two = _with("new_region", "price_shock", "label_noise:0.05")
    _assert_same(one, two)
    assert one.customers["region"].eq("central").any()


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("drift", r"unknown scenario 'drift': expected one of none, price_shock"),
        ("label_noise", r"'rate' is required"),
        ("label_noise:0.9", r"rate must be in \(0.0, 0.5\], got '0.9'"),
        ("missing_at_random:lots", r"rate must be a float, got 'lots'"),
        ("biased_sampling:keep=0.2", r"exactly one of region, plan"),
        ("biased_sampling:region=mars", r"region must be one of"),
        ("price_shock:speed=2", r"unknown parameter 'speed'"),
        ("new_region:region=west", r"region must be a new region name"),
    ],
)
def test_invalid_scenarios_are_refused_naming_the_scenario_and_the_valid_ones(
    scenario: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as error:
        GeneratorConfig(end=END, scenarios=(scenario,))
    assert scenario.split(":")[0] in str(error.value)
    assert "rare_churn" in str(error.value)


def test_scenario_lists_refuse_repeats_none_with_others_and_windows_longer_than_the_data() -> None:
    with pytest.raises(ValueError, match="more than once"):
        parse_scenarios(["price_shock", "price_shock:factor=2"])
    with pytest.raises(ValueError, match="cannot be combined"):
        parse_scenarios(["none", "price_shock"])
    with pytest.raises(ValueError, match="exceeds the window"):
        GeneratorConfig(days=20, end=END, scenarios=("price_shock",))
    with pytest.raises(ValueError, match="tuple of strings"):
        GeneratorConfig(end=END, scenarios="price_shock")  # type: ignore[arg-type]


def test_every_scenario_in_the_catalogue_parses_with_its_documented_example() -> None:
    examples = {
        "none": "none",
        "price_shock": "price_shock",
        "new_region": "new_region",
        "missing_logins": "missing_logins",
        "missing_at_random": "missing_at_random:0.1",
        "label_noise": "label_noise:0.05",
        "rare_churn": "rare_churn:0.01",
        "biased_sampling": "biased_sampling:region=west:keep=0.2",
    }
    assert set(examples) == set(SCENARIO_NAMES)
    assert parse_scenario(examples["biased_sampling"]).params == {"region": "west", "keep": 0.2}
    assert parse_scenario(examples["missing_logins"]).params == {"days": 30, "rate": 0.9}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    get_settings.cache_clear()
    yield tmp_path / "ws"
    get_settings.cache_clear()


def test_cli_generate_takes_repeated_scenarios_and_records_them(workspace: Path) -> None:
    runner = CliRunner()
    args = ["data", "generate", "--customers", "200", "--days", "60", "--end", "2025-06-01"]
    result = runner.invoke(app, [*args, "--scenario", "new_region", "--scenario", "price_shock"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((workspace / "data" / "raw" / "manifest.json").read_text())
    assert manifest["scenarios"] == ["new_region", "price_shock"]
    assert manifest["rows"]["customers"] == 220

    bad = runner.invoke(app, [*args, "--scenario", "label_noise:7"])
    assert bad.exit_code == 2
    assert "label_noise" in bad.output
    assert "Traceback" not in bad.output

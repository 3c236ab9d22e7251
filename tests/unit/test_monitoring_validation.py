"""Expectations from the training profile: per row for serving, per file for `keel monitor`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from monitoring.profile import ReferenceProfile, build_reference_profile
from monitoring.validation import Expectations, validate_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    rows = 1_000
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "pro"], rows),
            "logins_7d": rng.integers(0, 50, rows),  # 0..49
            "spend_30d": np.where(rng.random(rows) < 0.1, np.nan, rng.uniform(0, 100, rows)),
        }
    )
    return build_reference_profile(frame, ["plan", "logins_7d", "spend_30d"], None)


GOOD = {"plan": "pro", "logins_7d": 12, "spend_30d": 40.5}


def test_a_row_like_training_breaks_nothing(profile: ReferenceProfile) -> None:
    expectations = Expectations.from_profile(profile)
    assert expectations.violations(GOOD) == []
    assert expectations.violations({**GOOD, "spend_30d": None}) == []  # training had nulls


@pytest.mark.parametrize(
    ("change", "feature", "why"),
    [
        ({"logins_7d": 60}, "logins_7d", "outside"),  # 49 + 10% of the span is 53.9
        ({"logins_7d": -6}, "logins_7d", "outside"),
        ({"logins_7d": None}, "logins_7d", "null"),  # training never had a null there
        ({"logins_7d": "12"}, "logins_7d", "not a number"),
        ({"plan": "enterprise"}, "plan", "unknown category"),
        ({"plan": 3}, "plan", "not text"),
    ],
)
def test_each_broken_expectation_names_its_feature(
    profile: ReferenceProfile, change: dict[str, object], feature: str, why: str
) -> None:
    expectations = Expectations.from_profile(profile)
    row = {**GOOD, **change}
    assert expectations.violations(row) == [feature]
    assert why in expectations.explain(row)[feature]


def test_range_tolerance_widens_the_training_range(profile: ReferenceProfile) -> None:
    row = {**GOOD, "logins_7d": 53}
    assert Expectations.from_profile(profile).violations(row) == []
    assert Expectations.from_profile(profile, range_tolerance=0).violations(row) == ["logins_7d"]


def test_checking_a_row_takes_microseconds(profile: ReferenceProfile) -> None:
    expectations = Expectations.from_profile(profile)
    started = time.perf_counter()
    for _ in range(10_000):
        expectations.violations(GOOD)
    per_row = (time.perf_counter() - started) / 10_000
    assert per_row < 50e-6  # measured about 2 us for three features on the shared CI box


def test_validate_frame_counts_violations_per_column(profile: ReferenceProfile) -> None:
    frame = pd.DataFrame(
        {
            "plan": ["basic", "pro", "gold", "gold", None],
            "logins_7d": [1, 2, 3, 500, 4],
            "spend_30d": [np.nan] * 4 + [1.0],
        }
    )
    report = validate_frame(frame, Expectations.from_profile(profile))
    by_name = {c.name: c for c in report.columns}
    assert not report.ok and report.failing == ["plan", "logins_7d", "spend_30d"]
    assert by_name["plan"].unknown == {"gold": 2}
    assert by_name["logins_7d"].above == 1 and by_name["logins_7d"].below == 0
    assert by_name["spend_30d"].null_rate == pytest.approx(0.8)
    assert any("null rate" in v for v in by_name["spend_30d"].violations)


def test_a_few_rare_values_beyond_the_range_are_noted_not_failed(
    profile: ReferenceProfile,
) -> None:
    """One value in 200 beyond training's maximum is a note (a quiet month has a few); 3 in 200
    (1.5%, over the 1% tolerance) fail the column, and a tolerance of 0 fails on one."""
    good = pd.DataFrame([GOOD] * 200)
    one_high = good.assign(logins_7d=[500] + [12] * 199)
    noted = validate_frame(one_high, Expectations.from_profile(profile))
    column = {c.name: c for c in noted.columns}
    assert column["logins_7d"].ok and column["logins_7d"].above == 1
    assert column["logins_7d"].notes == ["1 value(s) above 53.9"]

    three_high = good.assign(logins_7d=[500] * 3 + [12] * 197)
    report = validate_frame(three_high, Expectations.from_profile(profile))
    assert report.failing == ["logins_7d"]
    assert report.columns[1].violations == ["3 value(s) above 53.9"]

    strict = Expectations.from_profile(profile, outlier_tolerance=0.0)
    assert validate_frame(one_high, strict).failing == ["logins_7d"]


def _files(tmp_path: Path, profile: ReferenceProfile, frame: pd.DataFrame) -> list[str]:
    reference = profile.save(tmp_path / "profile.json")
    data = tmp_path / "input.parquet"
    frame.to_parquet(data)
    return ["--input", str(data), "--reference", str(reference)]


def test_cli_validate_exits_0_when_clean_and_1_with_violations(
    tmp_path: Path, profile: ReferenceProfile
) -> None:
    clean = pd.DataFrame([GOOD] * 20)
    result = runner.invoke(app, ["monitor", "validate", *_files(tmp_path, profile, clean)])
    assert result.exit_code == 0, result.output

    broken = pd.DataFrame([GOOD] * 19 + [{**GOOD, "plan": "enterprise"}])
    args = ["monitor", "validate", *_files(tmp_path, profile, broken)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "1 column(s) fail" in result.output
    data = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert data["failing"] == ["plan"]
    assert data["columns"][0]["unknown"] == {"enterprise": 1}


def test_cli_validate_exits_2_naming_the_file_and_the_column(
    tmp_path: Path, profile: ReferenceProfile
) -> None:
    missing = pd.DataFrame([GOOD] * 3).drop(columns=["spend_30d"])
    result = runner.invoke(app, ["monitor", "validate", *_files(tmp_path, profile, missing)])
    assert result.exit_code == 2
    assert (
        f"{tmp_path / 'input.parquet'}: missing feature column(s) spend_30d (the model's "
        "features: plan, logins_7d, spend_30d)"
    ) in " ".join(result.output.split())

    text = pd.DataFrame([{**GOOD, "logins_7d": "many"}] * 3)
    result = runner.invoke(app, ["monitor", "validate", *_files(tmp_path, profile, text)])
    assert result.exit_code == 2
    assert (
        f"{tmp_path / 'input.parquet'}: column logins_7d should hold numbers, found object "
        "(e.g. 'many')"
    ) in " ".join(result.output.split())

    not_parquet = tmp_path / "notes.parquet"
    not_parquet.write_text("hello")
    args = ["--input", str(not_parquet), "--reference", str(tmp_path / "profile.json")]
    result = runner.invoke(app, ["monitor", "validate", *args])
    assert result.exit_code == 2 and "not a Parquet file" in result.output


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"logins_7d": 10_000},
        {"logins_7d": -1.5},
        {"logins_7d": True},
        {"logins_7d": "12"},
        {"logins_7d": np.int64(12)},
        {"logins_7d": np.float32(1e9)},
        {"logins_7d": None},
        {"logins_7d": float("nan")},
        {"spend_30d": None},
        {"spend_30d": float("inf")},
        {"plan": "gold"},
        {"plan": 3},
        {"plan": None},
        {"plan": "pro", "logins_7d": None, "spend_30d": -1e9},
    ],
)
def test_violations_name_exactly_the_features_explain_finds(
    profile: ReferenceProfile, changes: dict[str, object]
) -> None:
    """`violations` passes a number in range or an allowed text at once; everything else must
    still be judged as `explain` judges it, in the same order."""
    expectations = Expectations.from_profile(profile)
    row = {**GOOD, **changes}
    assert expectations.violations(row) == list(expectations.explain(row))
    missing = {k: v for k, v in row.items() if k not in changes or v is not None}
    assert expectations.violations(missing) == list(expectations.explain(missing))

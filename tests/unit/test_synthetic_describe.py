"""Specification of `keel data describe`: exact row counts, label counts and null counts, as the
generator promises them."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.settings import get_settings
from synthetic.churn import GeneratorConfig, RawTables, generate, write_raw_tables
from synthetic.churn_labels import SnapshotPlan, label_snapshots, snapshot_times
from synthetic.describe import Description, column_stats, describe_directory, describe_file

CONFIG = GeneratorConfig(
    customers=400,
    days=90,
    seed=3,
    end=datetime.date(2025, 6, 1),
    scenarios=("missing_at_random:0.1",),
)


@pytest.fixture(scope="module")
def tables() -> RawTables:
    return generate(CONFIG)


@pytest.fixture(scope="module")
def described(tables: RawTables, tmp_path_factory: pytest.TempPathFactory) -> Description:
    directory = tmp_path_factory.mktemp("raw")
    write_raw_tables(tables, directory)
    return describe_directory(directory)


def test_row_counts_are_exact(tables: RawTables, described: Description) -> None:
    assert described.rows == {
        "customers": 400,
        "activity": len(tables.activity),
        "tickets": len(tables.tickets),
        "churn_events": len(tables.churn_events),
    }


def test_label_counts_match_the_churn_events_and_the_training_snapshots(
    tables: RawTables, described: Description
) -> None:
    labels = described.labels
    assert labels is not None
    assert labels.customers == 400
    assert labels.churned_in_window == tables.churn_events["customer_id"].nunique()
    plan = SnapshotPlan()
    days = tables.activity["activity_date"]
    times = snapshot_times(days.min(), days.max() + pd.Timedelta(days=1), plan)
    snapshots = label_snapshots(
        tables.customers, tables.churn_events, times, horizon_days=plan.horizon_days
    )
    assert labels.snapshot_rows == len(snapshots)
    assert labels.snapshot_positives == int(snapshots["churned"].sum())
    assert 0 < labels.snapshot_label_rate < 0.2


def test_null_counts_are_exact_per_column(tables: RawTables, described: Description) -> None:
    by_name = {(c.table, c.column): c for c in described.columns}
    for table in ("customers", "activity", "tickets"):
        frame = getattr(tables, table)
        for column in frame.columns:
            stats = by_name[(table, column)]
            assert stats.nulls == int(frame[column].isna().sum())
            assert stats.null_rate == pytest.approx(frame[column].isna().mean())
    assert by_name[("activity", "logins")].nulls > 0
    assert by_name[("customers", "customer_id")].nulls == 0


def test_column_stats_give_range_mean_and_top_value() -> None:
    numbers = column_stats("t", "n", pd.Series([1, 2, None, 5], dtype="Int64"))
    assert (numbers.nulls, numbers.distinct, numbers.minimum, numbers.maximum) == (1, 3, "1", "5")
    assert numbers.mean == pytest.approx(8 / 3)
    text = column_stats("t", "s", pd.Series(["a", "b", "a", None]))
    assert text.top == "a (2)" and text.mean is None and text.null_rate == 0.25


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    get_settings.cache_clear()
    yield tmp_path / "ws"
    get_settings.cache_clear()


def test_cli_describe_prints_counts_and_explains_a_missing_workspace(
    workspace: Path, tables: RawTables
) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["data", "describe"])
    assert missing.exit_code == 2
    assert "keel data generate" in missing.output
    write_raw_tables(tables, workspace / "data" / "raw")
    result = runner.invoke(app, ["data", "describe"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"{len(tables.activity):,}" in result.output
    assert "snapshot rows" in result.output


def test_cli_describe_file_prints_one_tables_rows_and_column_stats(
    workspace: Path, tmp_path: Path
) -> None:
    table = pd.DataFrame(
        {"plan": ["basic", "pro", "basic", None], "spend": [1.5, 2.5, None, 4.0], "churned": 0}
    )
    path = tmp_path / "synth.parquet"
    table.to_parquet(path)
    described = describe_file(path)
    assert described.rows == {"synth": 4} and described.labels is None
    by_name = {c.column: c for c in described.columns}
    assert (by_name["plan"].nulls, by_name["plan"].top) == (1, "basic (2)")
    assert (by_name["spend"].minimum, by_name["spend"].maximum) == ("1.5", "4.0")
    result = CliRunner().invoke(
        app, ["data", "describe", "--file", str(path)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "synth" in result.output and "spend" in result.output and "basic (2)" in result.output
    assert "snapshot rows" not in result.output and "label rate" not in result.output


def test_cli_describe_file_names_a_missing_or_unreadable_file_with_exit_code_2(
    workspace: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    not_parquet = tmp_path / "notes.parquet"
    not_parquet.write_text("not a table")
    for path in (tmp_path / "missing.parquet", not_parquet):
        result = runner.invoke(
            app, ["data", "describe", "--file", str(path)], env={"COLUMNS": "300"}
        )
        assert result.exit_code == 2
        assert path.name in result.output and "Traceback" not in result.output
    both = runner.invoke(app, ["data", "describe", "--file", str(not_parquet), "--dir", "x"])
    assert both.exit_code == 2 and "not both" in both.output

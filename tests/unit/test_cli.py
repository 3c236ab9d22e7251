from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    get_settings.cache_clear()
    yield tmp_path / "ws"
    get_settings.cache_clear()


def test_generate_rejects_zero_customers_with_one_error_line_on_stderr() -> None:
    result = runner.invoke(app, ["data", "generate", "--customers", "0"])
    assert result.exit_code == 2
    assert result.stderr == "error: customers must be >= 1, got 0\n"
    assert result.stdout == ""


def test_train_before_data_says_what_to_run_first(workspace: Path) -> None:
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2
    missing = workspace / "data" / "raw" / "customers.parquet"
    assert result.stderr == f"error: {missing} is missing: run `keel data generate` first\n"


def _table_rows(output: str) -> dict[str, int]:
    """The `table │ rows` lines of the data table, as numbers."""
    rows: dict[str, int] = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 2 and cells[1].replace(",", "").isdigit():
            rows[cells[0]] = int(cells[1].replace(",", ""))
    return rows


def test_generate_writes_exact_counts_into_the_workspace(workspace: Path) -> None:
    result = runner.invoke(
        app, ["data", "generate", "--customers", "120", "--days", "40", "--end", "2026-01-01"]
    )
    assert result.exit_code == 0, result.output
    shown = _table_rows(result.stdout)
    assert shown["raw/customers"] == 120
    assert shown["features/customer_profile"] == 120
    written = {
        "raw/customers": workspace / "data" / "raw" / "customers.parquet",
        "raw/activity": workspace / "data" / "raw" / "activity.parquet",
        "features/customer_activity": (
            workspace / "data" / "features" / "customer_activity.parquet"
        ),
    }
    for table, path in written.items():
        assert shown[table] == len(pd.read_parquet(path)), table
    assert (workspace / "data" / "raw" / "manifest.json").exists()

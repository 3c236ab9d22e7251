from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    get_settings.cache_clear()
    yield tmp_path / "ws"
    get_settings.cache_clear()


def test_generate_rejects_zero_customers_with_exit_code_2() -> None:
    result = runner.invoke(app, ["data", "generate", "--customers", "0"])
    assert result.exit_code == 2
    assert "customers" in result.output
    assert "Traceback" not in result.output


def test_train_before_data_says_what_to_run_first() -> None:
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2
    assert "keel data generate" in result.output


def test_generate_writes_exact_counts_into_the_workspace(workspace: Path) -> None:
    result = runner.invoke(
        app, ["data", "generate", "--customers", "120", "--days", "40", "--end", "2026-01-01"]
    )
    assert result.exit_code == 0, result.output
    assert "120" in result.output
    assert (workspace / "data" / "raw" / "customers.parquet").exists()
    assert (workspace / "data" / "features" / "customer_activity.parquet").exists()
    assert (workspace / "data" / "raw" / "manifest.json").exists()

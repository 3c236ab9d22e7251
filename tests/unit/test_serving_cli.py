"""`keel predictions export|stats` over a workspace's prediction log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_serving_log import record
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.settings import get_settings
from keel.core.workspace import Workspace
from serving.log_sqlite import SqlitePredictionLog

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    get_settings.cache_clear()
    log = SqlitePredictionLog(Workspace.from_settings(get_settings()).prediction_log)
    log.append([record(customer_id=i) for i in range(1, 4)])
    log.close()
    yield tmp_path
    get_settings.cache_clear()


def test_stats_show_counts_per_version_and_export_writes_every_row(workspace: Path) -> None:
    stats = runner.invoke(app, ["predictions", "stats"])
    assert stats.exit_code == 0, stats.output
    assert "champion" in stats.output and "total 3 predictions, 0 with feedback" in stats.output
    out = workspace / "out" / "p.parquet"
    exported = runner.invoke(app, ["predictions", "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert pq.read_table(out).num_rows == 3


def test_score_names_a_missing_column(workspace: Path) -> None:
    source = workspace / "c.csv"
    source.write_text("id\n1\n")
    result = runner.invoke(
        app,
        ["score", "--input", str(source), "--as-of", "2026-01-01T00:00Z", "--output", "x.parquet"],
    )
    assert result.exit_code == 2
    assert "customer_id" in result.output and "Traceback" not in result.output

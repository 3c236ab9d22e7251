"""`keel monitor drift --current log:7d` reads the prediction log's recent rows directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.demo_journey import DemoResult
from keel.cli.main import app
from keel.core.errors import InvalidInput
from keel.core.settings import get_settings
from monitoring.log_window import export_log_window, parse_log_window

pytestmark = pytest.mark.integration


@pytest.fixture
def journey_env(journey: DemoResult, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoResult]:
    monkeypatch.setenv("KEEL_HOME", str(journey.settings.home))
    get_settings.cache_clear()
    yield journey
    get_settings.cache_clear()


def test_window_specs_are_days_or_hours() -> None:
    assert parse_log_window("log:7d") == timedelta(days=7)
    assert parse_log_window("log:24h") == timedelta(hours=24)
    assert parse_log_window("log:all") == timedelta.max
    assert parse_log_window("window.parquet") is None
    for bad in ("log:", "log:7w", "log:0d", "log:-1d"):
        with pytest.raises(InvalidInput, match="log:<N>d"):
            parse_log_window(bad)


def test_the_log_window_holds_the_served_predictions(journey: DemoResult, tmp_path: Path) -> None:
    out = tmp_path / "window.parquet"
    rows = export_log_window(journey.settings, timedelta(days=1), out)
    assert rows >= journey.logged_predictions
    frame = pd.read_parquet(out)
    assert len(frame) == rows
    assert {"created_at", "score", "customer_id", *journey.training.feature_columns} <= set(frame)


def test_drift_runs_on_the_log_window_from_the_cli(journey_env: DemoResult, tmp_path: Path) -> None:
    window = tmp_path / "window.parquet"
    export_log_window(journey_env.settings, timedelta(days=7), window)
    served = int((pd.read_parquet(window)["served_by"] != "shadow").sum())
    result = CliRunner().invoke(app, ["monitor", "drift", "--current", "log:7d", "--json"])
    data = json.loads(result.output)
    assert data["rows"] == served
    assert [f["name"] for f in data["features"]] == journey_env.training.feature_columns
    if served < 200:  # the journey serves a handful: nothing to judge, and no alarm
        assert (result.exit_code, data["verdict"], data["drifted"]) == (0, "too few rows", False)
    else:
        assert result.exit_code == (1 if data["drifted"] else 0), result.output
    bad = CliRunner().invoke(app, ["monitor", "drift", "--current", "log:7weeks"])
    assert bad.exit_code == 2
    assert "log:<N>d" in bad.output

"""The data lab's journey on the command line: generate, build the real table, synthesize,
report, and log the report to MLflow (a real SQLite-backed MLflow in the workspace)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    get_settings.cache_clear()
    yield tmp_path / "ws"
    get_settings.cache_clear()


def _ok(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_generate_real_table_synthesize_report_and_log_to_mlflow(
    workspace: Path, tmp_path: Path
) -> None:
    _ok("data", "generate", "--customers", "2500", "--days", "90", "--end", "2025-06-01")
    real, holdout = tmp_path / "real.parquet", tmp_path / "holdout.parquet"
    _ok("data", "real-table", "--out", str(real), "--holdout-out", str(holdout))
    synth = tmp_path / "out" / "synth.parquet"
    _ok(
        "data",
        "synthesize",
        "--from",
        str(real),
        "--rows",
        "1234",
        "--seed",
        "4",
        "--by",
        "churned",
        "--out",
        str(synth),
    )
    assert len(pd.read_parquet(synth)) == 1234
    page = tmp_path / "r.html"
    output = _ok(
        "data",
        "report",
        "--real",
        str(real),
        "--synthetic",
        str(synth),
        "--holdout",
        str(holdout),
        "--target",
        "churned",
        "--out",
        str(page),
        "--log-to-mlflow",
    )
    assert page.read_text().startswith("<!doctype html>")
    assert "MLflow run" in output

    from registry.client import mlflow_client

    client = mlflow_client(get_settings())
    experiment = client.get_experiment_by_name("keel-synthetic-data")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["verdict"] in {"pass", "warn", "fail"}
    assert {"utility.pr_auc_ratio", "fidelity.max_column_distance"} <= set(run.data.metrics)
    assert run.data.params["synthetic"] == str(synth)

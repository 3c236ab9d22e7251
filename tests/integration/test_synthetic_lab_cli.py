"""The data lab's journey on the command line: generate, build the real table, synthesize,
report, and log the report to MLflow (a real SQLite-backed MLflow in the workspace)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.settings import get_settings

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
    assert "without a holdout" not in output
    overall = re.search(r"overall: (\w+)", output)
    assert overall is not None and overall.group(1) in {"pass", "warn"}, output  # exit 0

    from registry.client import mlflow_client

    client = mlflow_client(get_settings())
    experiment = client.get_experiment_by_name("keel-synthetic-data")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert f"MLflow run {run.info.run_id}" in " ".join(output.split())
    assert run.data.tags["verdict"] == overall.group(1)
    assert {"utility.pr_auc_ratio", "fidelity.max_column_distance"} <= set(run.data.metrics)
    assert run.data.params["synthetic"] == str(synth)


def _copied_table(path: Path, rows: int = 300) -> Path:
    """A small real table; copying it as the "synthetic" one is the privacy failure."""
    customer = np.arange(rows)
    pd.DataFrame(
        {
            "customer_id": customer,
            "plan": np.where(customer % 3 == 0, "basic", "premium"),
            "spend_30d": (customer * 7919 % 1000) / 10.0,
            "churned": (customer % 5 == 0).astype("int64"),
        }
    ).to_parquet(path)
    return path


def test_report_exits_1_on_a_failed_verdict_and_says_privacy_had_no_holdout(
    workspace: Path, tmp_path: Path
) -> None:
    real = _copied_table(tmp_path / "real.parquet")
    page = tmp_path / "copy.html"
    args = ["data", "report", "--real", str(real), "--synthetic", str(real), "--out", str(page)]
    result = CliRunner().invoke(app, args)
    output = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "overall: fail" in output
    assert (
        "privacy measured without a holdout: a seeded 20% of the real table stood in for unseen "
        "rows, although the synthesizer saw them; pass --holdout"
    ) in output
    assert page.read_text().startswith("<!doctype html>")  # the page is still written

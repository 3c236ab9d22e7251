"""`keel monitor report` writes one self-contained page that a real browser renders, and
`keel monitor drift` answers cron: exit 0 when quiet, 1 on drift, `--json` for machines."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import generate_latest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.settings import get_settings
from monitoring.drift import compute_drift
from monitoring.profile import ReferenceProfile, build_reference_profile
from monitoring.report import SECTIONS
from registry.client import mlflow_client
from serving.metrics import Metrics
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.integration
runner = CliRunner()
CHROMIUM = "/usr/bin/chromium"
FEATURES = ["region", "logins_7d", "spend_30d"]


def prediction_export(rows: int, seed: int, *, spend_factor: float = 1.0) -> pd.DataFrame:
    """The prediction-log export's columns, features included."""
    rng = np.random.default_rng(seed)
    outcome = (rng.random(rows) < 0.2).astype(int)
    score = np.clip(0.15 + 0.3 * outcome + rng.normal(0, 0.1, rows), 0, 1)
    created = pd.Timestamp("2025-06-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 4 * 86_400, rows)), unit="s"
    )
    return pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(rows)],
            "created_at": created,
            "customer_id": np.arange(rows),
            "score": score,
            "label": (score > 0.3).astype("int64"),
            "model_name": "churn",
            "model_version": "3",
            "model_alias": "champion",
            "run_id": "r",
            "code_commit": "c",
            "request_id": None,
            "served_by": "champion",
            "region": rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2]),
            "logins_7d": rng.poisson(10, rows),
            "spend_30d": rng.lognormal(1, 1, rows) * spend_factor,
            "outcome": pd.array(outcome, dtype="Int64"),
            "observed_at": created + pd.Timedelta(days=30),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("monitor-files")
    training = prediction_export(4_000, seed=0)
    profile = build_reference_profile(training, FEATURES, training["score"].to_numpy())
    paths = {
        "reference": profile.save(root / "reference_profile.json"),
        "quiet": root / "quiet.parquet",
        "shocked": root / "shocked.parquet",
    }
    prediction_export(2_000, seed=1).to_parquet(paths["quiet"])
    prediction_export(2_000, seed=2, spend_factor=1.6).to_parquet(paths["shocked"])
    return paths


@pytest.fixture
def metrics_url() -> Iterator[str]:
    metrics = Metrics()
    for i in range(50):
        metrics.requests.labels(route="/v1/predict", status="200").inc()
        metrics.latency.labels(route="/v1/predict").observe(0.002 * (1 + i % 5))
    body = generate_latest(metrics.registry)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()


def _drift(files: dict[str, Path], current: str, *extra: str) -> tuple[int, str]:
    args = ["monitor", "drift", "--reference", str(files["reference"])]
    result = runner.invoke(app, [*args, "--current", str(files[current]), *extra])
    return result.exit_code, result.output


def test_drift_exits_0_on_a_quiet_window_and_1_on_a_shocked_one(files: dict[str, Path]) -> None:
    code, output = _drift(files, "quiet")
    assert code == 0, output
    assert "against the training reference: no drift" in _flat(output)
    code, output = _drift(files, "shocked", "--json")
    assert code == 1, output
    data = json.loads(output)
    assert data["drifted_features"] == ["spend_30d"]
    assert data["score"]["name"] == "score"


def _flat(output: str) -> str:
    """Rich wraps long lines at the console width: compare with the line breaks undone."""
    return " ".join(output.split())


def test_a_one_row_window_is_too_few_rows_to_judge_not_drift(
    files: dict[str, Path], tmp_path: Path
) -> None:
    one = tmp_path / "one.parquet"
    pd.read_parquet(files["shocked"]).head(1).to_parquet(one)
    args = ["monitor", "drift", "--reference", str(files["reference"]), "--current", str(one)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "too few rows to judge: 1 current row(s), the statistics need at least 200" in _flat(
        result.output
    )
    assert "DRIFT" not in result.output
    data = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert (data["verdict"], data["drifted"], data["drifted_features"]) == (
        "too few rows",
        False,
        [],
    )
    page = tmp_path / "one.html"
    report = runner.invoke(app, ["monitor", "report", *args[2:], "--out", str(page)])
    assert report.exit_code == 0, report.output
    assert "too few rows to judge: 1 current row(s)" in page.read_text()


def _report(files: dict[str, Path], current: Path, out: Path) -> tuple[int, str]:
    args = ["--reference", str(files["reference"]), "--current", str(current)]
    result = runner.invoke(app, ["monitor", "report", *args, "--out", str(out)])
    return result.exit_code, _flat(result.output)


def test_report_exits_1_when_its_verdict_is_drift_and_0_when_quiet(
    files: dict[str, Path], tmp_path: Path
) -> None:
    # drift alone makes it exit 1: the shock's one value beyond training's range (1 in 2,000)
    # is within the outlier tolerance, so validation passes with a note
    code, output = _report(files, files["shocked"], tmp_path / "shocked.html")
    assert (code, "(DRIFT; validation ok)" in output) == (1, True), output
    code, output = _report(files, files["quiet"], tmp_path / "quiet.html")
    assert (code, "(no drift; validation ok)" in output) == (0, True), output
    assert (tmp_path / "shocked.html").exists() and (tmp_path / "quiet.html").exists()


def test_report_exits_1_when_validation_fails_without_drift(
    files: dict[str, Path], tmp_path: Path
) -> None:
    frame = pd.read_parquet(files["quiet"])
    frame.loc[0, "region"] = "atlantis"  # one unknown category: no drift, a failed validation
    bad = tmp_path / "one-bad-row.parquet"
    frame.to_parquet(bad)
    code, output = _report(files, bad, tmp_path / "bad.html")
    assert (code, "(no drift; validation failed)" in output) == (1, True), output


def test_drift_thresholds_are_options(files: dict[str, Path]) -> None:
    code, output = _drift(files, "shocked", "--wasserstein", "5", "--psi", "5")
    assert code == 0, output


def test_drift_on_a_missing_file_exits_2_naming_it(files: dict[str, Path], tmp_path: Path) -> None:
    args = ["--reference", str(files["reference"]), "--current", str(tmp_path / "nope.parquet")]
    result = runner.invoke(app, ["monitor", "drift", *args])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.parquet'}: file not found" in _flat(result.output)


def _dump_dom(page: Path, tmp_path: Path) -> str:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom",
    ]  # fmt: skip
    done = subprocess.run(
        [CHROMIUM, *flags, page.as_uri()], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_renders_every_section_in_headless_chromium(
    files: dict[str, Path], metrics_url: str, tmp_path: Path
) -> None:
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        skip_or_fail(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    out = tmp_path / "report.html"
    args = ["--reference", str(files["reference"]), "--current", str(files["shocked"])]
    args += ["--predictions", str(files["shocked"]), "--metrics-url", metrics_url]
    result = runner.invoke(app, ["monitor", "report", *args, "--out", str(out)])
    assert result.exit_code == 1, result.output  # the verdict is drift
    assert "(DRIFT; validation ok)" in _flat(result.output)

    page = out.read_text()
    assert "http" not in page.replace(metrics_url, "")  # self-contained: nothing to fetch
    dom = _dump_dom(out, tmp_path)
    for section in SECTIONS:
        assert f'id="{section}"' in dom, section
    assert dom.count('src="data:image/png;base64,') == 3  # histograms, scores, performance
    assert "spend_30d" in dom and "DRIFT" in dom
    assert re.search(r"ok \(1 value\(s\) above [0-9.]+, within tolerance\)", dom)
    assert "latency p95" in dom and "not exported" in dom  # no process metrics in this server


def test_report_logs_the_page_and_its_plots_to_mlflow(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    get_settings.cache_clear()
    try:
        args = ["--reference", str(files["reference"]), "--current", str(files["quiet"])]
        out = tmp_path / "quiet.html"
        result = runner.invoke(
            app, ["monitor", "report", *args, "--out", str(out), "--log-to-mlflow"]
        )
        assert result.exit_code == 0, result.output
        client = mlflow_client(get_settings())
        experiment = client.get_experiment_by_name("keel-monitoring")
        assert experiment is not None
        (run,) = client.search_runs([experiment.experiment_id])
    finally:
        get_settings.cache_clear()
    assert (run.data.tags["verdict.drift"], run.data.tags["verdict.validation"]) == ("ok", "ok")
    profile = ReferenceProfile.load(files["reference"])
    expected = compute_drift(profile, pd.read_parquet(files["quiet"]))
    assert run.data.metrics["drifted_features"] == 0.0
    for feature in expected.features:
        assert run.data.metrics[f"psi.{feature.name}"] == pytest.approx(feature.psi)
        assert run.data.metrics[f"drift_statistic.{feature.name}"] == pytest.approx(
            feature.statistic
        )
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/feature_histograms.png", "plots/score_distribution.png"}
    assert "quiet.html" in {a.path for a in client.list_artifacts(run.info.run_id)}

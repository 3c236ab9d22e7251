"""`keel demo`: the whole journey on embedded defaults, ending in real HTTP predictions."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.feast_plumbing.features import ApplySummary, apply_definitions, materialize
from keel.ops.server_process import running_server
from serving.prediction_log import open_prediction_log
from synthetic.churn_dataset import DataSummary, generate_dataset
from synthetic.churn_labels import churn_model, write_churn_labels
from training.model_train import ModelTrainResult, train_workspace_model

UNKNOWN_CUSTOMER = 10**12
SERVE_PORT = 8000
UI_PORT = 5000


@dataclass(frozen=True)
class DemoResult:
    settings: Settings
    data: DataSummary
    applied: ApplySummary
    materialized: list[str]
    training: ModelTrainResult
    server_url: str
    responses: list[dict[str, Any]]
    logged_predictions: int


def _ignore(_: str) -> None:
    return None


def sample_customers(settings: Settings, count: int) -> list[int]:
    """Current customers (not churned), spread over the id range, to send to the server."""
    raw = Workspace.from_settings(settings).raw_dir
    ids = pd.read_parquet(raw / "customers.parquet", columns=["customer_id"])["customer_id"]
    churned = pd.read_parquet(raw / "churn_events.parquet", columns=["customer_id"])["customer_id"]
    current = ids[~ids.isin(churned)].to_numpy()
    step = max(len(current) // count, 1)
    return [int(i) for i in current[::step][:count]]


def run_demo(
    settings: Settings,
    *,
    customers: int = 5000,
    days: int = 180,
    seed: int = 42,
    fresh: bool = False,
    requests: int = 5,
    on_step: Callable[[str], None] = _ignore,
) -> DemoResult:
    """Generate, apply, materialize, train, serve in a child process, call it over HTTP."""
    workspace = Workspace.from_settings(settings)
    if fresh:
        on_step(f"wiping {workspace.home}")
        workspace.wipe()
    on_step(f"generating {customers:,} customers x {days} days")
    data = generate_dataset(settings, customers=customers, days=days, seed=seed)
    on_step("feast apply")
    applied = apply_definitions(settings)
    on_step("feast materialize into the online store")
    materialized = materialize(settings, on_step=on_step)
    on_step("labelling snapshots")
    labels = write_churn_labels(workspace.raw_dir)  # the example's label table; training reads it
    spec = churn_model(settings, labels)
    result = train_workspace_model(settings, spec, made=labels, on_step=on_step)
    on_step("starting `keel serve` and calling it over HTTP")
    responses: list[dict[str, Any]] = []
    log_file = workspace.demo_dir / "server.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with (
        running_server(settings, log_file=log_file) as url,
        httpx.Client(base_url=url, timeout=10.0) as http,
    ):
        for customer_id in [*sample_customers(settings, requests), UNKNOWN_CUSTOMER]:
            answer = http.post("/v1/predict", json={"customer_id": customer_id})
            responses.append({"status": answer.status_code, **answer.json()})
    log = open_prediction_log(settings)
    try:
        logged = log.count()
    finally:
        log.close()
    return DemoResult(settings, data, applied, materialized, result, url, responses, logged)


@dataclass(frozen=True)
class NextStep:
    """A command to try after the demo, and what it shows."""

    what: str
    command: str


def _shown(path: Path, cwd: Path) -> str:
    """`path` relative to `cwd` when it lies under it (shorter to read and to type)."""
    return shlex.quote(str(path.relative_to(cwd) if path.is_relative_to(cwd) else path))


def next_steps(
    settings: Settings, *, keel: str, customer_id: int, cwd: Path, default_home: Path
) -> list[NextStep]:
    """The commands to try next, written to run as shown from `cwd` with the `keel` executable
    `keel`; `KEEL_HOME` is spelled out when the workspace is not the default one."""
    workspace = Workspace.from_settings(settings)
    env = "" if settings.home == default_home else f"KEEL_HOME={_shown(settings.home, cwd)} "
    run = f"{env}{keel}"
    window = _shown(workspace.reports_dir / "predictions.parquet", cwd)
    report = _shown(workspace.reports_dir / "monitor.html", cwd)
    url = f"http://127.0.0.1:{SERVE_PORT}"
    body = shlex.quote(f'{{"customer_id": {customer_id}}}')
    return [
        NextStep(
            f"serve the champion on {url} (Ctrl-C stops it)", f"{run} serve --port {SERVE_PORT}"
        ),
        NextStep(
            "while it serves, from another terminal: one prediction",
            f"curl -s -X POST {url}/v1/predict -H 'content-type: application/json' -d {body}",
        ),
        NextStep(
            f"MLflow's UI on http://127.0.0.1:{UI_PORT}: runs, versions, aliases", f"{run} ui"
        ),
        NextStep(
            "the monitoring report on what was served",
            f"{run} predictions export --out {window} && "
            f"{run} monitor report --current {window} --out {report}",
        ),
    ]

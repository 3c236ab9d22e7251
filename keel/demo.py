"""`keel demo`: the whole journey on embedded defaults, ending in real HTTP predictions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from keel.data import DataSummary, generate_dataset
from keel.features import ApplySummary, apply_definitions, materialize
from keel.server_process import running_server
from keel.settings import Settings
from keel.workspace import Workspace
from serving.prediction_log import open_prediction_log
from training.train import TrainResult, train

UNKNOWN_CUSTOMER = 10**12


@dataclass(frozen=True)
class DemoResult:
    settings: Settings
    data: DataSummary
    applied: ApplySummary
    materialized: list[str]
    training: TrainResult
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
    materialized = materialize(settings)
    result = train(settings, on_step=on_step)
    on_step("starting `keel serve` and calling it over HTTP")
    responses: list[dict[str, Any]] = []
    log_file = workspace.home / "demo" / "server.log"
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

"""The server follows the aliases under load: reload at once or within the interval, A/B and
shadow by alias, and not one failed request during the swaps."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_process import copy_workspace, predict_loop, serve

from keel.cli.demo_journey import DemoResult, sample_customers
from keel.core.workspace import Workspace
from registry.client import fluent_tracking, mlflow_client
from serving.log_sqlite import SqlitePredictionLog
from serving.predictor import challenger_bucket

pytestmark = pytest.mark.e2e


def test_alias_moves_are_followed_under_load_without_a_failed_request(
    journey: DemoResult, tmp_path: Path
) -> None:
    settings = copy_workspace(
        journey.settings,
        tmp_path / "home",
        reload_interval=1.0,
        challenger_share=0.5,
        shadow=True,
    )
    client = mlflow_client(settings)
    first = client.get_model_version_by_alias("churn", "champion")
    with fluent_tracking(client.tracking_uri):  # MLflow resolves `models:/` sources globally
        created = client.create_model_version("churn", source=first.source, run_id=first.run_id)
    v1, v2 = str(first.version), str(created.version)
    client.set_model_version_tag("churn", v2, "keel.threshold", "0.0")
    customers = sample_customers(settings, 40)
    answers: list[dict[str, Any]] = []
    failures: list[str] = []

    with serve(settings, tmp_path / "server.log") as (url, _):
        load = threading.Thread(
            target=lambda: asyncio.run(
                predict_loop(
                    url, customers, seconds=7.0, concurrency=4, answers=answers, failures=failures
                )
            )
        )
        load.start()
        time.sleep(1.0)
        client.set_registered_model_alias("churn", "champion", v2)
        reloaded = httpx.post(f"{url}/admin/reload", timeout=30).json()
        switched_at = time.monotonic()
        # the 1 s check may have followed the move already, so `changed` may be either
        assert reloaded["champion"]["version"] == v2

        client.set_registered_model_alias("churn", "challenger", v1)
        deadline = time.monotonic() + 4.0  # interval 1 s: followed without a reload call
        aliases: set[str] = set()
        while time.monotonic() < deadline and "challenger" not in aliases:
            batch = httpx.post(f"{url}/v1/predict", json={"customers": customers}).json()
            aliases = {p["model"]["alias"] for p in batch["predictions"]}
            time.sleep(0.2)
        load.join()

    assert not failures, failures[:3]
    assert "challenger" in aliases, "the challenger alias was not followed within the interval"
    for p in batch["predictions"]:
        expected = "challenger" if challenger_bucket(p["customer_id"], 0.5) else "champion"
        assert p["model"]["alias"] == expected
        assert p["model"]["version"] == (v1 if expected == "challenger" else v2)
    versions = {a["model"]["version"] for a in answers}
    assert versions == {v1, v2}
    after = [a for a in answers if a["sent_at"] > switched_at and a["model"]["alias"] == "champion"]
    assert after and all(a["model"]["version"] == v2 for a in after)
    assert all(a["label"] == 1 for a in after), "version 2's threshold tag (0.0) was not used"

    log = SqlitePredictionLog(Workspace.from_settings(settings).prediction_log)
    try:
        shadows = list(
            log.query("SELECT model_version FROM predictions WHERE served_by = 'shadow'")
        )
    finally:
        log.close()
    assert shadows and {row[0] for row in shadows} == {v1}

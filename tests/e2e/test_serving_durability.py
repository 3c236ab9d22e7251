"""The prediction log keeps every answered prediction through a kill -9 of the server."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_process import copy_workspace, predict_loop, serve

from keel.demo import DemoResult, sample_customers
from keel.workspace import Workspace
from serving.log_sqlite import SqlitePredictionLog

pytestmark = pytest.mark.e2e


def test_every_answered_prediction_survives_kill_9_exactly_once(
    journey: DemoResult, tmp_path: Path
) -> None:
    settings = copy_workspace(journey.settings, tmp_path / "home")
    customers = sample_customers(settings, 50)
    answers: list[dict[str, Any]] = []
    failures: list[str] = []
    log_file = tmp_path / "server.log"
    with serve(settings, log_file) as (url, process):
        killer = threading.Timer(2.0, lambda: process.send_signal(signal.SIGKILL))
        killer.start()
        asyncio.run(
            predict_loop(
                url, customers, seconds=6.0, concurrency=8, answers=answers, failures=failures
            )
        )
        killer.join()
        assert process.wait(5) == -signal.SIGKILL
    assert not failures, failures[:3]
    assert len(answers) > 50, "the load did not run before the kill"

    path = Workspace.from_settings(settings).prediction_log
    with serve(settings, log_file) as (url, _):  # the restarted server opens the same log
        first = answers[0]["prediction_id"]
        feedback = {"prediction_id": first, "outcome": 0, "observed_at": "2026-11-30T00:00Z"}
        assert httpx.post(f"{url}/v1/feedback", json=feedback).status_code == 200
        half = httpx.post(f"{url}/v1/feedback", json={**feedback, "outcome": 0.5})
        assert half.status_code == 422, half.text  # a churn (binary) outcome is 0 or 1
        assert "outcome" in half.json()["detail"] and "binary" in half.json()["detail"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    log = SqlitePredictionLog(path)
    try:
        ids = [row[0] for row in log.query("SELECT prediction_id FROM predictions")]
        assert len(ids) == len(set(ids)), "a prediction was logged twice"
        for answer in answers:
            record = log.get(answer["prediction_id"])
            assert record is not None, f"answered {answer['prediction_id']} is not in the log"
            assert record.entity == {"customer_id": answer["customer_id"]}
            assert record.score == answer["churn_probability"]
            assert record.model_version == answer["model"]["version"]
            assert record.features, "a logged record lost its features"
    finally:
        log.close()

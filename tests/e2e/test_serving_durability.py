"""The prediction log keeps every answered prediction through a kill -9 of the server, for the
built-in churn model (`/v1/predict`) and for a keel.yaml model (the delivery example's regression
model, composite string keys and request fields, `/v1/models/{name}/predict`)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_process import copy_workspace, predict_loop, serve

from keel.cli.demo_journey import sample_customers
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from serving.log_columns import entity_key
from serving.log_sqlite import SqlitePredictionLog
from tests.delivery_workspace import copy_delivery, one_order_bodies
from tests.predict_requests import Requests, churn_requests, model_requests

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Workload:
    """A served model's private workspace, the requests to load it with, and what its answers
    and records hold."""

    settings: Settings
    requests: Requests
    join_keys: tuple[str, ...]
    score: str
    """The answer's field the log keeps as `score`."""
    task: str
    outcome: float
    """Feedback the model's task accepts."""
    refused_outcome: float | None
    environ: dict[str, str] = field(default_factory=dict)


def workload(model: str, request: pytest.FixtureRequest, tmp_path: Path) -> Workload:
    """churn: a copy of the session's journey; delivery_minutes: of its delivery workspace."""
    if model == "churn":
        settings = copy_workspace(request.getfixturevalue("journey").settings, tmp_path / "home")
        requests = churn_requests(sample_customers(settings, 50))
        return Workload(settings, requests, ("customer_id",), "churn_probability", "binary", 0, 0.5)
    copy = copy_delivery(request.getfixturevalue("delivery"), tmp_path / "delivery")
    requests = model_requests(model, one_order_bodies(copy, 50))
    keys = ("courier_id", "zone_id")
    return Workload(
        copy.settings, requests, keys, "prediction", "regression", 31.5, None, copy.environ
    )


def kill_once_answered(
    answers: list[dict[str, Any]], process: subprocess.Popen[bytes], *, at_least: int = 60
) -> None:
    """SIGKILL the server mid-load once `at_least` requests were answered (a busy machine warms
    up slower than a fixed delay assumes), and in any case after 30 s."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and len(answers) < at_least:
        time.sleep(0.05)
    time.sleep(0.3)  # requests in flight at the kill
    process.send_signal(signal.SIGKILL)


@pytest.mark.parametrize("model", ["churn", "delivery_minutes"])
def test_every_answered_prediction_survives_kill_9_exactly_once(
    model: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    load = workload(model, request, tmp_path)
    monkeypatch.delenv("KEEL_CONFIG", raising=False)
    for name, value in load.environ.items():
        monkeypatch.setenv(name, value)
    answers: list[dict[str, Any]] = []
    failures: list[str] = []
    log_file = tmp_path / "server.log"
    with serve(load.settings, log_file) as (url, process):
        killer = threading.Thread(target=kill_once_answered, args=(answers, process))
        killer.start()
        asyncio.run(  # ends at the kill: every client stops at its first refused connection
            predict_loop(
                url, load.requests, seconds=40.0, concurrency=8, answers=answers, failures=failures
            )
        )
        killer.join()
        assert process.wait(5) == -signal.SIGKILL
    assert not failures, failures[:3]
    assert len(answers) > 50, "the load did not run before the kill"

    path = Workspace.from_settings(load.settings).prediction_log
    with serve(load.settings, log_file) as (url, _):  # the restarted server opens the same log
        first = answers[0]["prediction_id"]
        feedback = {
            "prediction_id": first,
            "outcome": load.outcome,
            "observed_at": "2026-11-30T00:00Z",
        }
        accepted = httpx.post(f"{url}/v1/feedback", json=feedback)
        assert accepted.status_code == 200, accepted.text
        if load.refused_outcome is not None:
            refused = {**feedback, "outcome": load.refused_outcome}
            half = httpx.post(f"{url}/v1/feedback", json=refused)
            assert half.status_code == 422, half.text  # a binary outcome is 0 or 1
            assert "outcome" in half.json()["detail"] and load.task in half.json()["detail"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    log = SqlitePredictionLog(path)
    try:
        rows = list(log.query("SELECT prediction_id, entity_key, task FROM predictions"))
        stored = {row[0]: row[1:] for row in rows}
        assert len(stored) == len(rows), "a prediction was logged twice"
        for answer in answers:
            entity = {key: answer[key] for key in load.join_keys}
            record = log.get(answer["prediction_id"])
            assert record is not None, f"answered {answer['prediction_id']} is not in the log"
            assert stored[answer["prediction_id"]] == (entity_key(entity), load.task)
            assert record.entity == entity
            assert record.score == answer[load.score]
            assert record.model_version == answer["model"]["version"]
            assert record.features, "a logged record lost its features"
    finally:
        log.close()

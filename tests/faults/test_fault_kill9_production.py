"""kill -9 of the whole API (2 worker processes) under load in the production profile loses no
acknowledged prediction: each 200 is in the PostgreSQL log, once; for the churn model and for a
keel.yaml model (the delivery example's, its Feast repo on the same Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from fault_services import (
    Answer,
    fresh_database,
    load,
    logged_rows,
    private_redis,
)
from fault_workloads import MODELS, production_workload

from serving.log_columns import entity_key
from tests.predict_requests import answered_prediction

pytestmark = pytest.mark.integration


def kill_tree(pid: int) -> None:
    """SIGKILL the server and its workers at once (the master alone would leave them serving)."""
    root = psutil.Process(pid)
    for process in [*root.children(recursive=True), root]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)


def kill_once_answered(answers: list[Answer], pid: int, *, at_least: int = 100) -> None:
    """SIGKILL the server's process tree mid-load: once `at_least` requests were answered (a
    busy machine warms up slower than a fixed delay assumes), and in any case after 20 s."""
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline and sum(a.status == 200 for a in answers) < at_least:
        time.sleep(0.05)
    time.sleep(0.3)  # requests in flight at the kill
    kill_tree(pid)


@pytest.mark.parametrize("model", MODELS)
def test_kill_9_under_load_keeps_every_acknowledged_prediction_in_postgres(
    model: str, request: pytest.FixtureRequest, postgres_url: str, tmp_path: Path
) -> None:
    with private_redis() as redis_server, fresh_database(postgres_url) as database:
        served = production_workload(
            model,
            request,
            tmp_path,
            redis_url=redis_server.url,
            database=database,
            project="keelfaultkill",
            workers=2,
        )
        answers: list[Answer] = []
        with served.serve(tmp_path / "server.log") as (url, process):
            killer = threading.Thread(target=kill_once_answered, args=(answers, process.pid))
            killer.start()
            asyncio.run(
                load(
                    url,
                    served.requests,
                    seconds=30.0,  # ends at the kill (stop_on_disconnect)
                    concurrency=8,
                    answers=answers,
                    stop_on_disconnect=True,
                )
            )
            killer.join()
            assert process.wait(5) == -signal.SIGKILL
        acknowledged = [answered_prediction(a.body) for a in answers if a.status == 200]
        assert len(acknowledged) > 50, "the load did not run before the kill"
        assert all(a.status == 200 for a in answers), [a.body for a in answers][:3]
        rows = logged_rows(served.settings)
        logged = Counter(row[0] for row in rows)
        assert not [i for i, n in logged.items() if n > 1], "a prediction was logged twice"
        missing = [a for a in acknowledged if a["prediction_id"] not in logged]
        assert not missing, f"{len(missing)} acknowledged predictions are not in the log"
        stored = {row[0]: row[1:] for row in rows}
        for answer in acknowledged:
            entity = {key: answer[key] for key in served.join_keys}
            assert stored[answer["prediction_id"]] == (entity_key(entity), served.task)

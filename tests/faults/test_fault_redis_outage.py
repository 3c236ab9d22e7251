"""Redis dies while the API serves: 503 JSON with Retry-After (never a 500, never a hang), and
the same process recovers once Redis is back; for the churn model and for a keel.yaml model
(the delivery example's, its Feast repo's online store on that Redis)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest
from fault_services import (
    AUTH,
    Answer,
    copy_home,
    fresh_database,
    load,
    logged_ids,
    private_redis,
    production_settings,
    serve,
)
from fault_workloads import MODELS, production_workload

from keel.cli.demo_journey import DemoResult, sample_customers
from tests.predict_requests import answered_prediction

pytestmark = pytest.mark.integration

ONLINE_TIMEOUT = 0.5
LATENCY_BOUND = 2 * ONLINE_TIMEOUT + 3.0
"""Two attempts of `KEEL_ONLINE_TIMEOUT` each, plus a margin for a loaded 2-core machine."""


@pytest.mark.parametrize("model", MODELS)
def test_redis_outage_answers_503_with_retry_after_then_recovers_without_restart(
    model: str, request: pytest.FixtureRequest, postgres_url: str, tmp_path: Path
) -> None:
    with private_redis() as redis_server, fresh_database(postgres_url) as database:
        served = production_workload(
            model,
            request,
            tmp_path,
            redis_url=redis_server.url,
            database=database,
            project="keelfaultredis",
            online_timeout=ONLINE_TIMEOUT,
        )
        answers: list[Answer] = []
        log_file = tmp_path / "server.log"
        with served.serve(log_file) as (url, process):
            killed_at: list[float] = []

            def kill() -> None:
                killed_at.append(time.monotonic())
                redis_server.kill()  # returns once the process is gone
                killed_at.append(time.monotonic())

            killer = threading.Timer(1.5, kill)
            killer.start()
            lost = asyncio.run(
                load(url, served.requests, seconds=4.5, concurrency=4, answers=answers)
            )
            killer.join()

            assert lost == 0, "a request got no HTTP answer while Redis was down"
            statuses = {a.status for a in answers}
            assert statuses <= {200, 503}, [a for a in answers if a.status not in (200, 503)][:3]
            # Answered before the kill began: Redis was up for the whole request.
            before = [a for a in answers if a.sent_at + a.seconds < killed_at[0]]
            after = [a for a in answers if a.sent_at > killed_at[1]]
            assert before and all(a.status == 200 for a in before)
            assert after and all(a.status == 503 for a in after), "Redis was down yet 200"
            for answer in (a for a in answers if a.status == 503):
                assert answer.body["error"] == "OnlineStoreUnavailable"
                assert "online store" in answer.body["detail"]
                assert f"127.0.0.1:{redis_server.port}" in answer.body["detail"]
                assert answer.retry_after == "1"
            slowest = max(a.seconds for a in answers)
            assert slowest < LATENCY_BOUND, f"an answer took {slowest:.2f} s"

            ready = httpx.get(f"{url}/readyz", timeout=LATENCY_BOUND)
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert "online store" in checks["online_store"] and checks["model"] == "ok"
            assert checks["prediction_log"] == "ok"

            redis_server.start()  # same port, empty: it kept nothing
            served.materialize()

            def recovered() -> bool:
                return httpx.get(f"{url}/readyz", timeout=5).status_code == 200

            deadline = time.monotonic() + 15
            while not recovered():
                assert time.monotonic() < deadline, "not ready 15 s after Redis came back"
                time.sleep(0.2)
            again = httpx.post(
                url + served.requests.path, json=served.requests.body(0), headers=AUTH, timeout=5
            )
            assert again.status_code == 200, again.text
            assert process.poll() is None, "the server restarted"
        answered = {a.prediction_id for a in answers if a.status == 200}
        answered.add(answered_prediction(again.json())["prediction_id"])
        assert set(logged_ids(served.settings)) == answered, "the log and the 200s disagree"


def test_a_redis_that_stops_answering_gets_503_within_the_timeout_on_every_read_path(
    journey: DemoResult, postgres_url: str, tmp_path: Path
) -> None:
    """SIGSTOP, not SIGKILL: the kernel still accepts connections and nothing answers. Keel's
    direct reads (`/v1/predict`) and Feast's own client (`/v1/features`) both give up within
    `KEEL_ONLINE_TIMEOUT` (before, Feast's client waited forever)."""
    home = copy_home(journey.settings, tmp_path / "home")
    with private_redis() as redis_server, fresh_database(postgres_url) as database:
        settings = production_settings(
            home,
            redis_url=redis_server.url,
            database=database,
            project="keelfaulthung",
            online_timeout=ONLINE_TIMEOUT,
        )
        customer = sample_customers(settings, 1)[0]
        requests = {
            "/v1/predict": {"customer_id": customer},
            "/v1/features": {
                "feature_service": settings.feature_service,
                "entities": {"customer_id": [customer], "as_of_unix": [int(time.time())]},
            },
        }
        with serve(settings, tmp_path / "server.log") as (url, process):
            with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
                for path, body in requests.items():
                    assert client.post(path, json=body).status_code == 200, path
                redis_server.pause()
                try:
                    for path, body in requests.items():
                        started = time.monotonic()
                        answer = client.post(path, json=body)
                        took = time.monotonic() - started
                        assert answer.status_code == 503, (path, answer.text)
                        assert answer.json()["error"] == "OnlineStoreUnavailable", path
                        assert answer.headers["retry-after"] == "1"
                        assert took < LATENCY_BOUND, f"{path} took {took:.1f} s"
                    started = time.monotonic()
                    assert client.get("/readyz").status_code == 503
                    assert time.monotonic() - started < LATENCY_BOUND
                finally:
                    redis_server.resume()
                for path, body in requests.items():
                    assert client.post(path, json=body).status_code == 200, path
            assert process.poll() is None

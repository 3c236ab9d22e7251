"""`keel serve --workers 2`: /metrics counts every worker's requests, whichever one answers."""

from __future__ import annotations

import re

import httpx
import pytest

from keel.cli.demo_journey import DemoResult, sample_customers
from keel.ops.server_process import running_server

pytestmark = pytest.mark.e2e

PREDICT_200 = re.compile(
    r'^keel_http_requests_total\{route="/v1/predict",status="200"\} (\S+)$', re.M
)


def test_metrics_sum_over_workers(journey: DemoResult) -> None:
    settings = journey.settings.model_copy(update={"workers": 2})
    customers = sample_customers(settings, 3)
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=10) as http:
        for i in range(20):
            answer = http.post("/v1/predict", json={"customer_id": customers[i % 3]})
            assert answer.status_code == 200
        counts = set()
        for _ in range(8):
            # A new connection each time, so the scrapes spread over the workers.
            with httpx.Client(base_url=url, timeout=10) as scrape:
                text = scrape.get("/metrics").text
            match = PREDICT_200.search(text)
            assert match, text[:500]
            counts.add(float(match.group(1)))
    assert counts == {20.0}

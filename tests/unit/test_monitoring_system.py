"""The system view reads the server's own Prometheus exposition."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from monitoring.system import histogram_quantile, parse_system_view
from serving.metrics import Metrics

PROCESS = """# HELP process_cpu_seconds_total Total user and system CPU time.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.0
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.5e8
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1000.0
"""


def exposition() -> str:
    metrics = Metrics()
    for _ in range(90):
        metrics.requests.labels(route="/v1/predict", status="200").inc()
        metrics.latency.labels(route="/v1/predict").observe(0.003)
    for _ in range(10):
        metrics.requests.labels(route="/v1/predict", status="404").inc()
        metrics.latency.labels(route="/v1/predict").observe(0.2)
    return generate_latest(metrics.registry).decode() + PROCESS


def test_request_rate_latency_cpu_and_memory_from_the_servers_metrics(
    in_process_metrics: None,
) -> None:
    view = parse_system_view(exposition(), now=1100.0)
    assert view.requests == 100
    assert view.requests_by_status == {"200": 90, "404": 10}
    assert view.uptime_seconds == 100 and view.request_rate == pytest.approx(1.0)
    assert 0.002 < view.latency_seconds["p50"] <= 0.005  # the 3 ms bucket
    assert 0.1 < view.latency_seconds["p99"] <= 0.25  # the slow tenth
    assert view.cpu_share == pytest.approx(0.12)
    assert view.rss_bytes == 2.5e8


def test_missing_process_metrics_are_left_empty_not_invented() -> None:
    view = parse_system_view(generate_latest(Metrics().registry).decode())
    assert view.cpu_seconds is None and view.rss_bytes is None and view.request_rate is None


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = [(0.1, 50.0), (0.2, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(buckets, 0.5) == pytest.approx(0.1)
    assert histogram_quantile(buckets, 0.75) == pytest.approx(0.15)
    assert histogram_quantile([(float("inf"), 0.0)], 0.5) is None

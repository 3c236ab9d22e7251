"""Prometheus metrics of one app (own registry, so apps in one process do not collide).

With `process_metrics` (what `create_app` asks for) the registry also carries the process and
platform collectors (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
`python_info`): the CPU and RSS of monitoring's system view. Off by default so an exposition
built in a test holds only what the test put there.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self, *, process_metrics: bool = False) -> None:
        self.registry = CollectorRegistry()
        if process_metrics:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "keel_http_requests",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "keel_http_request_seconds",
            "Request latency by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "keel_predictions",
            "Logged predictions by model version and role.",
            ["model", "version", "served_by"],
            registry=self.registry,
        )
        self.feature_violations = Counter(
            "keel_feature_violations",
            "Answered predictions whose feature broke the version's reference expectations.",
            ["feature", "model", "version"],
            registry=self.registry,
        )
        self.log_failures = Counter(
            "keel_prediction_log_failures",
            "Requests refused because the prediction log could not commit.",
            registry=self.registry,
        )
        self.model_version = Gauge(
            "keel_model_version",
            "Version served under each alias (0: none).",
            ["alias"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "keel_model_reloads", "Alias checks by outcome.", ["outcome"], registry=self.registry
        )

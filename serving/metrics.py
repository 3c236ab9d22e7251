"""Prometheus metrics of one app (own registry, so apps in one process do not collide).

With `process_metrics` (what `create_app` asks for) the registry also carries the process and
platform collectors (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
`python_info`): the CPU and RSS of monitoring's system view. Off by default so an exposition
built in a test holds only what the test put there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self, *, process_metrics: bool = False) -> None:
        self.registry = CollectorRegistry()
        self.process_metrics = process_metrics
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
            "Version served under each alias of each model (0: none).",
            ["model", "alias"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.reloads = Counter(
            "keel_model_reloads", "Alias checks by outcome.", ["outcome"], registry=self.registry
        )

    def exposition(self, *, workers: int) -> bytes:
        """The Prometheus text of this app; with several workers, summed over all of them.

        Importing Feast sets PROMETHEUS_MULTIPROCESS_DIR (for its own gunicorn server), so in a
        `keel serve --workers N` every worker's values are files in one shared directory:
        reading them all through `MultiProcessCollector` gives one consistent count whichever
        worker answers the scrape. Process CPU and RSS stay those of the answering worker.
        """
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        shared = workers > 1 and directory and values.ValueClass is not values.MutexValue
        if not shared:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        if self.process_metrics:
            ProcessCollector(registry=registry)
        return generate_latest(registry)


MULTIPROCESS_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR")


@contextmanager
def worker_metrics_directory() -> Iterator[Path]:
    """A fresh directory for the metric files of one `keel serve --workers N`, exported to the
    workers through the environment and removed afterwards.

    Without it the workers would share whatever directory the launching process inherited
    (Feast creates one per process tree), mixing in counts of earlier servers.
    """
    directory = Path(tempfile.mkdtemp(prefix="keel_metrics_"))
    saved = {name: os.environ.get(name) for name in MULTIPROCESS_VARIABLES}
    os.environ.update({name: str(directory) for name in MULTIPROCESS_VARIABLES})
    try:
        yield directory
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(directory, ignore_errors=True)

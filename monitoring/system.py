"""The system view: a running server's Prometheus text (`/metrics`) reduced to a few figures.

Request rate (requests since start / uptime), latency percentiles interpolated in the
histogram buckets, CPU seconds and resident memory (the `process_*` metrics, when the server
exports them), plus the free disk of the workspace measured here.
"""

from __future__ import annotations

import math
import shutil
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from keel.core.errors import BackendUnavailable

REQUESTS = "keel_http_requests"
LATENCY = "keel_http_request_seconds"
PERCENTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class SystemView:
    """What the page shows; None where the server does not export the figure."""

    requests: float | None = None
    requests_by_status: dict[str, float] = field(default_factory=dict)
    uptime_seconds: float | None = None
    request_rate: float | None = None
    latency_seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float | None = None
    cpu_share: float | None = None
    rss_bytes: float | None = None
    disk_free_bytes: float | None = None
    disk_total_bytes: float | None = None


def fetch_metrics(url: str, *, timeout: float = 5.0) -> str:
    """The Prometheus text of `url`; `BackendUnavailable` naming it when unreachable."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--metrics-url must be an http(s) URL, got {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode("utf-8"))
    except OSError as error:
        raise BackendUnavailable(f"cannot read metrics from {url}: {error}") from error


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' `histogram_quantile`: linear interpolation inside the bucket holding the
    q-th observation; `buckets` are (upper bound, cumulative count), +Inf last."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def parse_system_view(text: str, *, now: float | None = None) -> SystemView:
    """Reduce a Prometheus exposition to a `SystemView` (see the module docstring)."""
    requests = 0.0
    by_status: dict[str, float] = {}
    buckets: dict[float, float] = {}
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{REQUESTS}_total":
                requests += sample.value
                status = sample.labels.get("status", "?")
                by_status[status] = by_status.get(status, 0.0) + sample.value
            elif sample.name == f"{LATENCY}_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name in {
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_start_time_seconds",
            }:
                found[sample.name] = sample.value
    now = time.time() if now is None else now
    start = found.get("process_start_time_seconds")
    uptime = now - start if start else None
    cpu = found.get("process_cpu_seconds_total")
    latency = {
        f"p{round(q * 100)}": value
        for q in PERCENTILES
        if (value := histogram_quantile(list(buckets.items()), q)) is not None
    }
    return SystemView(
        requests=requests if by_status else None,
        requests_by_status=by_status,
        uptime_seconds=uptime,
        request_rate=requests / uptime if uptime and by_status else None,
        latency_seconds=latency,
        cpu_seconds=cpu,
        cpu_share=cpu / uptime if cpu is not None and uptime else None,
        rss_bytes=found.get("process_resident_memory_bytes"),
    )


def with_disk(view: SystemView, path: Path) -> SystemView:
    """`view` plus the free and total bytes of the file system holding `path`."""
    target = path if path.exists() else Path.cwd()
    usage = shutil.disk_usage(target)
    return SystemView(
        **{
            **view.__dict__,
            "disk_free_bytes": float(usage.free),
            "disk_total_bytes": float(usage.total),
        }
    )

"""A `keel serve` child process whose pid the test holds (to kill -9 it), and a load loop."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from keel.core.settings import Settings
from keel.ops.server_process import server_process
from tests.predict_requests import Requests, answered_prediction, churn_requests


def copy_workspace(settings: Settings, home: Path, **overrides: Any) -> Settings:
    """A private copy of a workspace (the journey's stays untouched by the test)."""
    shutil.copytree(settings.home, home, ignore=shutil.ignore_patterns("predictions"))
    return Settings(**{**settings.model_dump(), "home": home, **overrides})


@contextmanager
def serve(settings: Settings, log_file: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`keel serve` ready (model loaded, online store reachable), with its process."""
    with server_process(settings, log_file=log_file, ready_path="/readyz") as served:
        yield served


async def predict_loop(
    url: str,
    customers: Sequence[int] | Requests,
    *,
    seconds: float,
    concurrency: int,
    answers: list[dict[str, Any]],
    failures: list[str],
) -> None:
    """`concurrency` clients sending single predictions (churn customers, or `Requests`) until
    `seconds` pass or the server dies; every 200's prediction goes to `answers`
    (`answered_prediction`), anything else that got an answer to `failures`."""
    deadline = time.monotonic() + seconds
    requests = customers if isinstance(customers, Requests) else churn_requests(customers)

    async def client(index: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            i = index
            while time.monotonic() < deadline:
                body = requests.body(i)
                i += concurrency
                sent_at = time.monotonic()
                try:
                    response = await http.post(requests.path, json=body)
                except httpx.HTTPError:
                    return  # the server is gone: no answer, so no promise was made
                if response.status_code == 200:
                    answers.append({**answered_prediction(response.json()), "sent_at": sent_at})
                else:
                    failures.append(f"{response.status_code} {response.text}")

    await asyncio.gather(*(client(i) for i in range(concurrency)))

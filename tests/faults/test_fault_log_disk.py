"""The disk of the local prediction log fills up, or fails and is taken read-only by the kernel,
while the API serves: predictions fail closed (503 saying why, with Retry-After), nothing is
answered without its record, and (disk full) the same process serves again once space is
freed. The full disk is tried with the churn model and with a keel.yaml model (the delivery
example's)."""

from __future__ import annotations

import asyncio
import errno
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import skip_or_fail
from fault_services import Answer, copy_home, load, serve, wait_for
from fault_workloads import MODELS, local_workload

from keel.cli.demo_journey import DemoResult, sample_customers
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from serving.log_sqlite import SqlitePredictionLog
from tests.predict_requests import churn_requests

pytestmark = pytest.mark.integration


@contextmanager
def small_disk(directory: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `directory` (a real file system that really fills up)."""
    directory.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        skip_or_fail(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system refuses another byte."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
        try:
            while True:
                out.write(b"\0" * 512)
        except OSError:
            pass
    return filler


@pytest.mark.parametrize("model", MODELS)
def test_full_log_disk_fails_closed_with_503_and_recovers_when_space_returns(
    model: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    served = local_workload(model, request, tmp_path)
    requests = served.requests
    log_path = Workspace.from_settings(served.settings).prediction_log
    answers: list[Answer] = []
    with small_disk(log_path.parent, "32m"):
        with served.serve(tmp_path / "server.log") as (url, process):
            asyncio.run(load(url, requests, seconds=1.0, concurrency=2, answers=answers))
            assert answers and all(a.status == 200 for a in answers)

            filler = fill(log_path.parent)
            full: list[Answer] = []
            asyncio.run(load(url, requests, seconds=2.0, concurrency=2, answers=full))
            assert {a.status for a in full} <= {200, 503}
            refused = [a for a in full if a.status == 503]
            assert refused, "the disk is full yet every prediction was answered"
            for answer in refused:
                assert answer.body["error"] == "LogUnavailable"
                assert "database or disk is full" in answer.body["detail"]
                assert str(log_path) in answer.body["detail"]
                assert answer.retry_after == "1"
            ready = httpx.get(f"{url}/readyz", timeout=5)
            assert ready.status_code == 503
            assert "disk full" in ready.json()["checks"]["prediction_log"]

            filler.unlink()
            wait_for(
                lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200,
                seconds=10,
                message="/readyz not ready after space was freed",
            )
            after: list[Answer] = []
            asyncio.run(load(url, requests, seconds=1.0, concurrency=2, answers=after))
            assert after and all(a.status == 200 for a in after), [
                a for a in after if a.status != 200
            ][:2]
            assert process.poll() is None
        answered = [a.prediction_id for a in [*answers, *full, *after] if a.status == 200]
        log = SqlitePredictionLog(log_path)
        try:
            logged = [row[0] for row in log.query("SELECT prediction_id FROM predictions")]
        finally:
            log.close()
    assert sorted(logged) == sorted(answered), "logged rows and 200s differ"


@contextmanager
def failing_disk(directory: Path, image: Path) -> Iterator[Path]:
    """An ext4 file system on a loop device, mounted on `directory` with `errors=remount-ro`;
    yields its sysfs directory, whose `trigger_fs_error` makes the kernel take the disk
    read-only under the server's open files, as a failing disk does. (A plain `remount,ro` is
    refused while SQLite holds the log open for writing.)"""
    directory.mkdir(parents=True, exist_ok=True)
    if shutil.which("mkfs.ext4") is None:
        skip_or_fail("mkfs.ext4 is not installed (apt-get install e2fsprogs)")
    made = subprocess.run(
        ["mkfs.ext4", "-q", "-F", str(image), "64M"], capture_output=True, text=True
    )
    if made.returncode != 0:
        skip_or_fail(f"mkfs.ext4 could not make {image}: {made.stderr.strip()}")
    mounted = subprocess.run(
        ["mount", "-o", "loop,errors=remount-ro", str(image), str(directory)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        skip_or_fail(
            "cannot mount an ext4 image on a loop device here (needs root and /dev/loop*): "
            f"{mounted.stderr.strip()}"
        )
    try:
        device = subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE", str(directory)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        yield Path("/sys/fs/ext4") / Path(device).name
    finally:
        subprocess.run(["umount", str(directory)], check=False)


def test_log_disk_gone_read_only_fails_closed_and_keeps_every_answered_record(
    journey: DemoResult, tmp_path: Path
) -> None:
    home = copy_home(journey.settings, tmp_path / "home")
    settings = Settings(**{**journey.settings.model_dump(), "home": home})
    customers = sample_customers(settings, 20)
    log_path = Workspace(home).prediction_log
    image = tmp_path / "log-disk.img"
    answers: list[Answer] = []
    with (
        failing_disk(log_path.parent, image) as sysfs,
        serve(settings, tmp_path / "server.log") as (url, process),
    ):
        asyncio.run(
            load(url, churn_requests(customers), seconds=1.0, concurrency=2, answers=answers)
        )
        assert answers and all(a.status == 200 for a in answers)

        (sysfs / "trigger_fs_error").write_text("keel fault test: the log disk fails\n")
        failed: list[Answer] = []
        asyncio.run(
            load(url, churn_requests(customers), seconds=2.0, concurrency=2, answers=failed)
        )
        assert {a.status for a in failed} <= {200, 503}
        refused = [a for a in failed if a.status == 503]
        assert refused, "the log disk failed yet every prediction was answered"
        for answer in refused:
            assert answer.body["error"] == "LogUnavailable"
            assert "disk I/O error" in answer.body["detail"]  # SQLite's word for it
            assert "read-only file system" in answer.body["detail"]  # Keel's: why
            assert str(log_path) in answer.body["detail"]
            assert answer.retry_after == "1"
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503
        assert "read-only file system" in ready.json()["checks"]["prediction_log"]
        assert process.poll() is None
    answered = [a.prediction_id for a in [*answers, *failed] if a.status == 200]
    # The disk is repaired (journal replayed on the next mount): every 200 is in the log.
    repaired = subprocess.run(["e2fsck", "-f", "-y", str(image)], capture_output=True, text=True)
    assert repaired.returncode in (0, 1), repaired.stdout
    subprocess.run(["mount", "-o", "loop", str(image), str(log_path.parent)], check=True)
    try:
        log = SqlitePredictionLog(log_path)
        try:
            logged = [row[0] for row in log.query("SELECT prediction_id FROM predictions")]
        finally:
            log.close()
    finally:
        subprocess.run(["umount", str(log_path.parent)], check=False)
    assert sorted(logged) == sorted(answered), "logged rows and 200s differ"

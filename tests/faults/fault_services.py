"""Private servers the fault tests may kill (never the machine's shared Redis or PostgreSQL),
fresh databases, workspace copies and a load loop that records every answer (the models the
tests run against: `fault_workloads`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from conftest import skip_or_fail

from keel.core.settings import Settings
from keel.ops.server_process import free_port, server_process
from tests.predict_requests import Requests, answered_prediction

TOKEN = "faults-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def copy_home(settings: Settings, home: Path) -> Path:
    """A private copy of a workspace without its prediction log (the original stays as is)."""
    shutil.copytree(settings.home, home, ignore=shutil.ignore_patterns("predictions", "serving"))
    return home


class PrivateRedis:
    """`redis-server` on its own port, in memory only, that a test may SIGKILL and restart."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            skip_or_fail("redis-server is not installed (apt-get install redis-server)")
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError(f"private redis-server on port {self.port} did not start")

    def pause(self) -> None:
        """SIGSTOP: connections stay open and the kernel still accepts new ones, but nothing
        is ever answered (a hung or overloaded Redis)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no shutdown, every connection dropped, every key lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@contextmanager
def fresh_database(admin_url: str, prefix: str = "keel_faults") -> Iterator[str]:
    """A new database on the shared PostgreSQL (dropped afterwards); its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        from registry.database import database_engine

        database_engine.cache_clear()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb as the `postgres` OS user) that may restart."""

    port: int
    data: Path
    binaries: Path
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [str(self.binaries / "pg_ctl"), "-D", str(self.data / "db"), "-w"]
        command += ["-l", str(self.data / "server.log"), "-o", options, *args]
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            timeout=timeout,
            capture_output=True,
        )


POSTGRES_INSTALLS = Path("/usr/lib/postgresql")
"""Where Debian's postgresql-<version> packages put initdb and pg_ctl."""


@contextmanager
def private_postgres(installs: Path = POSTGRES_INSTALLS) -> Iterator[PrivatePostgres]:
    """Skips (fails under KEEL_REQUIRE_SERVICES) without PostgreSQL's server binaries under
    `installs`, `runuser` or root (the cluster runs as the `postgres` OS user)."""
    found = sorted(installs.glob("*/bin/pg_ctl"))
    if not found:
        skip_or_fail(
            f"no PostgreSQL server binaries (initdb, pg_ctl) under {installs}/<version>/bin "
            "to run a private cluster (apt-get install postgresql)"
        )
    if shutil.which("runuser") is None or os.geteuid() != 0:
        skip_or_fail(
            "a private PostgreSQL cluster runs as the postgres OS user: needs root and runuser"
        )
    binaries = found[-1].parent
    data = Path(tempfile.mkdtemp(prefix="keel-faults-pg-"))
    shutil.chown(data, "postgres", "postgres")
    server = PrivatePostgres(free_port(), data, binaries)
    initdb = [str(binaries / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres"]
    subprocess.run(["runuser", "-u", "postgres", "--", *initdb], check=True, capture_output=True)
    server.pg_ctl("start")
    try:
        yield server
    finally:
        try:
            server.pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(data, ignore_errors=True)


@dataclass
class Answer:
    status: int
    seconds: float
    body: dict[str, Any]
    retry_after: str | None
    sent_at: float

    @property
    def prediction_id(self) -> str:
        """The id of a 200's one prediction (either route's shape)."""
        return str(answered_prediction(self.body)["prediction_id"])


async def load(
    url: str,
    requests: Requests,
    *,
    seconds: float,
    concurrency: int,
    answers: list[Answer],
    timeout: float = 10.0,
    stop_on_disconnect: bool = False,
) -> int:
    """`concurrency` clients sending single predictions (`requests` in turn) for `seconds`;
    every answer is kept with its latency. Returns how many requests got no answer
    (connection errors)."""
    deadline = time.monotonic() + seconds
    lost = 0

    async def client(index: int) -> None:
        nonlocal lost
        async with httpx.AsyncClient(base_url=url, timeout=timeout, headers=AUTH) as http:
            i = index
            while time.monotonic() < deadline:
                body = requests.body(i)
                i += concurrency
                sent_at = time.monotonic()
                try:
                    response = await http.post(requests.path, json=body)
                except httpx.HTTPError:
                    lost += 1
                    if stop_on_disconnect:
                        return
                    await asyncio.sleep(0.05)
                    continue
                try:
                    answered = response.json()
                except ValueError:
                    answered = {"raw": response.text}
                answers.append(
                    Answer(
                        response.status_code,
                        time.monotonic() - sent_at,
                        answered,
                        response.headers.get("retry-after"),
                        sent_at,
                    )
                )

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return lost


def wait_for(check: Any, *, seconds: float, message: str) -> None:
    """Poll `check()` until it is truthy or fail with `message`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"{message} within {seconds:.0f} s")


def production_settings(home: Path, *, redis_url: str, database: str, **overrides: Any) -> Settings:
    """Production-profile settings on a workspace copy (Redis online store, Feast SQL registry
    and prediction log on PostgreSQL; MLflow stays on the copy's SQLite), with the features
    applied and materialized into Redis."""
    from keel.core.workspace import Workspace
    from keel.feast_plumbing.features import apply_definitions, materialize

    settings = Settings(
        home=home,
        profile="production",
        redis_url=redis_url,
        postgres_url=database,
        mlflow_tracking_uri=f"sqlite:///{Workspace(home).mlflow_db}",
        api_tokens=f"{TOKEN}=predict+feedback",
        **overrides,  # type: ignore[arg-type]
    )
    apply_definitions(settings)
    materialize(settings)
    return settings


def logged_rows(settings: Settings) -> list[tuple[str, str, str]]:
    """Every (prediction_id, entity_key, task) in the production (PostgreSQL) log."""
    with psycopg.connect(settings.postgres_url) as db:
        rows = db.execute(
            f"SELECT prediction_id, entity_key, task FROM {settings.project}_predictions"
        )
        return [(str(row[0]), str(row[1]), str(row[2])) for row in rows]


def logged_ids(settings: Settings) -> list[str]:
    """Every prediction id in the production (PostgreSQL) log, duplicates included."""
    with psycopg.connect(settings.postgres_url) as db:
        rows = db.execute(f"SELECT prediction_id FROM {settings.project}_predictions")
        return [str(row[0]) for row in rows]


START_TIMEOUT = 300.0
"""`keel serve` imports Feast, MLflow and scikit-learn: over a minute on a busy 2-core box."""


@contextmanager
def serve(
    settings: Settings, log_file: Path | None = None, *, environ: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`keel serve` as a child process, once `/readyz` answers 200; `environ` (a keel.yaml's
    `KEEL_CONFIG`) on top of this process's environment."""
    from unittest import mock

    with (
        mock.patch.dict(os.environ, environ or {}),
        server_process(
            settings, log_file=log_file, ready_path="/readyz", timeout=START_TIMEOUT
        ) as served,
    ):
        yield served

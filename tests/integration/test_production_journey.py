"""The production profile on one machine, end to end: `keel infra up` starts an MLflow tracking
server (PostgreSQL backend store, artifacts served by the server) and `keel serve --workers 2`;
Feast's SQL registry lives in PostgreSQL and its online store in the machine's Redis; training
and registration go through the server's HTTP API; only alias moves use its database.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import redis
from dotenv import dotenv_values
from prometheus_client.mmap_dict import MmapedDict
from typer.testing import CliRunner

from keel.cli.common import console
from keel.cli.demo_journey import sample_customers
from keel.cli.main import app
from keel.core.workspace import Workspace
from keel.feast_plumbing.features import apply_definitions, materialize
from keel.ops.infra_config import DEFAULT_ENV_FILE, StackConfig, load_stack_config
from keel.ops.infra_stack import API, MLFLOW, api_token, down
from keel.ops.server_process import free_port
from registry.aliases import move_alias, rollback_alias
from registry.client import mlflow_client
from synthetic.churn_dataset import generate_dataset
from synthetic.churn_labels import churn_model, write_churn_labels
from training.model_train import train_workspace_model
from training.train_options import ModelTrainOptions

pytestmark = pytest.mark.integration

runner = CliRunner()


def keel(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _database(base: str, name: str) -> str:
    return f"{base.rpartition('/')[0]}/{name}"


@pytest.fixture
def stack(
    tmp_path: Path, redis_url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StackConfig]:
    """An env file like `infra/local-production.env`, on fresh databases, a unique Feast
    project and free ports; everything is stopped, dropped and deleted afterwards."""
    suffix = uuid.uuid4().hex[:10]
    project = f"keelprod{suffix}"
    keel_db, mlflow_db = f"keel_prod_{suffix}", f"keel_prod_mlflow_{suffix}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{keel_db}"')  # `up` creates the MLflow one itself
    values = {
        **dotenv_values(DEFAULT_ENV_FILE),
        "KEEL_HOME": str(tmp_path / "home"),
        "KEEL_PROJECT": project,
        "KEEL_REDIS_URL": redis_url,
        "KEEL_POSTGRES_URL": _database(postgres_url, keel_db),
        "KEEL_MLFLOW_BACKEND_STORE_URI": _database(postgres_url, mlflow_db),
        "KEEL_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "KEEL_RELOAD_INTERVAL": "1",
        "KEEL_ACTOR": "tester",
        "KEEL_INFRA_API_PORT": str(free_port()),
        "KEEL_INFRA_MLFLOW_WORKERS": "1",
    }
    env_file = tmp_path / "stack.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    monkeypatch.setattr(console, "width", 400)
    config = load_stack_config(env_file)
    try:
        yield config
    finally:
        down(config)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            for name in (keel_db, mlflow_db):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{project}*", count=1000):
            client.delete(key)


def worker_answers(api_pid: int) -> dict[int, float]:
    """Per worker of `keel serve --workers N`: how many `/v1/predict` requests it answered,
    read from the metric file each worker writes under its own pid."""
    workers = [
        p for p in psutil.Process(api_pid).children() if "spawn_main" in " ".join(p.cmdline())
    ]
    answered: dict[int, float] = {}
    for worker in workers:
        directory = worker.environ()["PROMETHEUS_MULTIPROC_DIR"]
        path = Path(directory) / f"counter_{worker.pid}.db"
        answered[worker.pid] = sum(
            value
            for key, value, *_ in MmapedDict.read_all_values_from_file(str(path))
            if "keel_http_requests_total" in key and '"/v1/predict"' in key
        )
    return answered


def post_predict(url: str, token: str, customer: int) -> httpx.Response:
    """One prediction over a new connection (so requests spread over the workers)."""
    headers = {"authorization": f"Bearer {token}"}
    return httpx.post(
        f"{url}/v1/predict", json={"customer_id": customer}, headers=headers, timeout=30
    )


def predict(url: str, token: str, customer: int) -> dict[str, object]:
    response = post_predict(url, token, customer)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def served_versions(url: str, token: str, customers: list[int]) -> set[str]:
    """The versions named by the answers; `503` while a worker has no model yet."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda c: post_predict(url, token, c), customers))
    versions = set()
    for answer in answers:
        assert answer.status_code in (200, 503), answer.text
        ok = answer.status_code == 200
        versions.add(str(answer.json()["model"]["version"]) if ok else "503")
    return versions


def wait_until_served(url: str, token: str, customers: list[int], version: str) -> None:
    """Every answer names `version`, over new connections to both workers (each follows the
    alias on its own)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if served_versions(url, token, customers * 2) == {version}:
            return
        time.sleep(0.5)
    raise AssertionError(f"the API still serves {served_versions(url, token, customers)}")


def test_production_journey_on_one_machine(stack: StackConfig) -> None:
    settings = stack.settings
    project = settings.project

    # Data, Feast apply (SQL registry on PostgreSQL), materialize into Redis.
    generate_dataset(settings, customers=600, days=120, seed=11, churn_rate=0.08)
    applied = apply_definitions(settings)  # in the README's order: before `keel infra up`
    mlflow_db = str(settings.mlflow_backend_store_uri).rpartition("/")[2]
    assert mlflow_db in applied.created_databases, applied
    with psycopg.connect(settings.postgres_url) as registry:
        services = registry.execute(
            "SELECT feature_service_name FROM feature_services WHERE project_id = %s", (project,)
        ).fetchall()
    assert services == [(settings.feature_service,)]
    materialize(settings)
    redis_keys = redis.Redis.from_url(settings.redis_url).scan_iter(match=f"*{project}*")
    assert sum(1 for _ in redis_keys) >= 500

    # `keel infra up`: the databases exist already (apply made them), starts server and API.
    code, out = keel("infra", "up", "--profile", "production", "--env-file", str(stack.env_file))
    assert code == 0, out
    assert "created database" not in out
    assert "started mlflow, api" in out
    code, out = keel("infra", "up", "--env-file", str(stack.env_file))
    assert code == 0 and "already up" in out, out
    token = api_token(stack)
    assert token

    # Train and register through the server's HTTP API; artifacts land on the server's side.
    labels = write_churn_labels(Workspace.from_settings(settings).raw_dir)
    spec = churn_model(settings, labels)
    first = train_workspace_model(
        settings, spec, made=labels, options=ModelTrainOptions(gate_margin=0.0)
    )
    assert first.aliases == ["challenger", "champion"], first.gate
    client = mlflow_client(settings)
    version = client.get_model_version(settings.model_name, first.model_version)
    assert client.get_run(version.run_id).info.artifact_uri.startswith("mlflow-artifacts:/")
    assert list(stack.artifacts_dir.rglob("MLmodel")), "no model files in the server's store"
    client_side = Workspace.from_settings(settings).artifacts_dir
    assert not [p for p in client_side.rglob("*") if p.is_file()], "artifacts written locally"

    # Serve with 2 workers: both answer, the same version.
    url = stack.api_url
    customers = sample_customers(settings, 6)
    wait_until_served(url, token, customers, first.model_version)
    api_pid = _recorded_pid(stack, API)
    deadline = time.monotonic() + 30
    while min(worker_answers(api_pid).values(), default=0) == 0:
        assert time.monotonic() < deadline, worker_answers(api_pid)
        served_versions(url, token, customers)
    assert len(worker_answers(api_pid)) == 2

    # Feedback joins an outcome to an answered prediction.
    answer = predict(url, token, customers[0])
    feedback = httpx.post(
        f"{url}/v1/feedback",
        json={
            "prediction_id": answer["prediction_id"],
            "outcome": 1,
            "observed_at": datetime.now(UTC).isoformat(),
        },
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert feedback.status_code == 200, feedback.text
    assert feedback.json()["status"] == "recorded"

    # A second version held back by an unreachable gate margin (below the baseline's bar: no
    # alias at all), promoted by hand; the API follows. Then rollback; the API follows back.
    second = train_workspace_model(
        settings, spec, made=labels, options=ModelTrainOptions(gate_margin=1.0)
    )
    assert second.aliases == [] and not second.gate.beats_baseline
    promoted = move_alias(
        settings,
        name=settings.model_name,
        alias="champion",
        version=second.model_version,
        reason="journey: promote v2",
        force=True,
    )
    assert promoted.forced
    assert client.get_model_version_by_alias(settings.model_name, "champion").version == (
        second.model_version
    )
    wait_until_served(url, token, customers, second.model_version)
    back = rollback_alias(
        settings, name=settings.model_name, alias="champion", reason="journey: roll back"
    )
    assert str(back.to_version) == first.model_version
    wait_until_served(url, token, customers, first.model_version)

    # The alias history sits in the MLflow server's own PostgreSQL database.
    with psycopg.connect(str(settings.mlflow_backend_store_uri)) as mlflow_database:
        rows = mlflow_database.execute(
            "SELECT alias, to_version, action, forced, actor FROM keel_alias_history "
            "WHERE model_name = %s ORDER BY id",
            (settings.model_name,),
        ).fetchall()
    v1, v2 = int(first.model_version), int(second.model_version)
    assert rows == [
        ("challenger", v1, "promote", False, "tester"),
        ("champion", v1, "promote", False, "tester"),
        ("champion", v2, "promote", True, "tester"),
        ("champion", v1, "rollback", False, "tester"),
    ]

    # Status, then down: nothing of the stack is left running; down again is a no-op.
    code, out = keel("infra", "status", "--env-file", str(stack.env_file))
    assert code == 0, out
    assert out.count(" yes ") == 2 and "200 ready" in out, out
    groups = [_recorded_pid(stack, name) for name in (MLFLOW, API)]
    members = [p.pid for p in psutil.process_iter() if _in_groups(p.pid, groups)]
    assert len(members) >= 4  # both leaders, MLflow's uvicorn, the API's two workers
    code, out = keel("infra", "down", "--env-file", str(stack.env_file))
    assert code == 0 and "stopped api, mlflow" in out, out
    assert not [pid for pid in members if psutil.pid_exists(pid) and not _zombie(pid)]
    code, out = keel("infra", "down", "--env-file", str(stack.env_file))
    assert code == 0 and "nothing was running" in out, out


def _recorded_pid(stack: StackConfig, name: str) -> int:
    return int(json.loads((stack.state_dir / f"{name}.json").read_text())["pid"])


def _in_groups(pid: int, groups: list[int]) -> bool:
    try:
        return os.getpgid(pid) in groups and not _zombie(pid)
    except ProcessLookupError:
        return False


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True

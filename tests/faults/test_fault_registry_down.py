"""The MLflow tracking server is down when the API starts: it serves the champion it cached on
an earlier start, says so in `/readyz` and its log, and follows the alias once MLflow is back."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fault_services import copy_home, serve, wait_for

from keel.cli.demo_journey import DemoResult, sample_customers
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.ops.server_process import free_port
from registry.aliases import move_alias
from registry.client import fluent_tracking, mlflow_client
from serving.model_cache import ModelCache
from serving.model_files_cache import ModelFilesCache, cache_root
from serving.registry_probe import registry_probe

pytestmark = pytest.mark.integration


@contextmanager
def tracking_server(backend: str, port: int, artifacts: Path) -> Iterator[str]:
    """`mlflow server` on `port` over the `backend` store; its URL once `/health` answers."""
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--backend-store-uri", backend, "--workers", "1"]
    command += ["--default-artifact-root", artifacts.as_uri()]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, "mlflow server exited"
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, seconds=180, message="mlflow server did not answer /health")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def predicted_version(url: str, customer: int) -> str:
    response = httpx.post(f"{url}/v1/predict", json={"customer_id": customer}, timeout=10)
    assert response.status_code == 200, response.text
    version: str = response.json()["model"]["version"]
    return version


def test_api_starts_from_cached_champion_while_mlflow_is_down_and_follows_alias_when_back(
    journey: DemoResult, tmp_path: Path
) -> None:
    home = copy_home(journey.settings, tmp_path / "home")
    direct = Settings(**{**journey.settings.model_dump(), "home": home, "actor": "faults"})
    backend = f"sqlite:///{Workspace(home).mlflow_db}"
    port = free_port()
    settings = Settings(
        **{
            **direct.model_dump(),
            "mlflow_tracking_uri": f"http://127.0.0.1:{port}",
            "reload_interval": 0.5,
        }
    )
    customer = sample_customers(settings, 1)[0]
    champion = mlflow_client(direct).get_model_version_by_alias(settings.model_name, "champion")
    first = str(champion.version)
    artifacts = tmp_path / "mlartifacts"

    with tracking_server(backend, port, artifacts):  # what `keel serve` does when it starts
        models = ModelCache(
            mlflow_client(settings),
            settings.model_name,
            files=ModelFilesCache(cache_root(home), settings.model_name),
            probe=registry_probe(settings),
        )
        assert models.refresh() and models.current is not None
        assert models.current.champion.model.version == first
    pointer = cache_root(home) / settings.model_name / "champion.json"
    assert json.loads(pointer.read_text())["version"] == first

    # MLflow is down now. A promotion lands in its database meanwhile (Keel writes it there).
    log_file = tmp_path / "server.log"
    with serve(settings, log_file) as (url, process):
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200
        checks = ready.json()["checks"]
        assert checks.pop("scoring").startswith(f"champion v{first}: ")
        assert checks == {
            "model": "ok",
            "registry": f"unreachable, serving cached champion v{first}",
            "online_store": "ok",
            "prediction_log": "ok",
        }
        assert predicted_version(url, customer) == first
        logged = log_file.read_text()
        assert "WARNING" in logged and f"serving cached champion churn v{first}" in (logged)

        client = mlflow_client(direct)
        with fluent_tracking(client.tracking_uri):  # MLflow resolves `models:/` globally
            newer = client.create_model_version(
                settings.model_name,
                source=champion.source,
                run_id=champion.run_id,
                tags=champion.tags,
            )
        move_alias(
            direct,
            name=settings.model_name,
            alias="champion",
            version=newer.version,
            reason="promoted while the tracking server was down",
        )
        assert predicted_version(url, customer) == first  # cannot see it yet

        with tracking_server(backend, port, artifacts):
            wait_for(
                lambda: predicted_version(url, customer) == str(newer.version),
                seconds=20,
                message="the API did not follow the alias once MLflow was back",
            )
            assert httpx.get(f"{url}/readyz").json()["checks"]["registry"] == "ok"
        assert process.poll() is None
    assert json.loads(pointer.read_text())["version"] == str(newer.version)

"""The deployable stack in `infra/`, validated without a Docker engine.

The compose file, env template, Dockerfile, Prometheus config and Grafana dashboard must agree
with each other and with Keel: every reference resolves, every setting Keel needs is provided, and
every metric the dashboard queries is one a live `keel serve` really exposes on `/metrics`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from keel.cli.demo_journey import DemoResult, sample_customers
from keel.cli.main import app
from keel.core.errors import InsecureConfiguration
from keel.core.settings import Settings
from keel.ops.server_process import free_port, running_server
from serving.auth import TokenAuth
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
KEEL_SERVICES = ("keel-api", "keel-materialize")
STACK = {
    "redis",
    "postgres",
    "minio",
    "minio-buckets",
    "mlflow",
    "keel-api",
    "keel-materialize",
    "prometheus",
    "grafana",
}
IMAGE_PORTS = {"redis": 6379, "postgres": 5432, "minio": 9000}
"""Ports the upstream images listen on; Keel's and MLflow's come from their commands."""

PROFILE_NEEDS = {
    "KEEL_PROFILE",
    "KEEL_HOME",
    "KEEL_REDIS_URL",
    "KEEL_POSTGRES_URL",
    "KEEL_MLFLOW_TRACKING_URI",
}
SERVED_LABELS = {"job", "instance", "le"}
"""Labels a PromQL expression may use that Prometheus (or the histogram) adds itself."""


# --- reading the files -------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines of a compose env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


def env_template(name: str) -> Path:
    """The committed template of an env file the compose file names (`x.env` -> `x.env.example`)."""
    return INFRA / f"{name}.example"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((INFRA / "compose.yaml").read_text())
    return loaded


def service_env(compose: dict[str, Any], name: str) -> dict[str, str]:
    """What a service's process sees: its env files' templates, then `environment`."""
    service = compose["services"][name]
    env: dict[str, str] = {}
    for file in service.get("env_file", []):
        env.update(read_env_file(env_template(file)))
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env.update({key: str(value) for key, value in environment.items()})
    return env


def option(command: list[str], name: str) -> str | None:
    """The value of `--name value` or `--name=value` in a command list."""
    for i, word in enumerate(command):
        if word == name and i + 1 < len(command):
            return command[i + 1]
        if word.startswith(f"{name}="):
            return word.split("=", 1)[1]
    return None


def listening_port(compose: dict[str, Any], name: str) -> int:
    """The port a stack service listens on inside the compose network."""
    if name in IMAGE_PORTS:
        return IMAGE_PORTS[name]
    port = option(compose["services"][name]["command"], "--port")
    assert port is not None, f"{name}: command sets no --port"
    return int(port)


# --- compose: structure ------------------------------------------------------------------------


def test_compose_describes_the_whole_stack(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= STACK


def test_every_depends_on_names_a_defined_service(compose: dict[str, Any]) -> None:
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in compose["services"].items():
        depends = service.get("depends_on", {})
        for target, spec in depends.items() if isinstance(depends, dict) else []:
            assert target in compose["services"], f"{name} depends on undefined {target}"
            assert spec["condition"] in conditions, f"{name} -> {target}: {spec}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in compose["services"][target], f"{target} has no healthcheck"
        for target in depends if isinstance(depends, list) else []:
            assert target in compose["services"], f"{name} depends on undefined {target}"


def test_every_volume_network_and_mounted_file_exists(compose: dict[str, Any]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    declared_networks = set(compose.get("networks") or {})
    for name, service in compose["services"].items():
        for network in service.get("networks", []):
            assert network in declared_networks, f"{name}: undeclared network {network}"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (INFRA / source).exists(), f"{name}: bind mount {source} is missing"
            else:
                assert source in declared_volumes, f"{name}: undeclared volume {source}"
        build = service.get("build")
        if build:
            dockerfile = (INFRA / build["context"] / build["dockerfile"]).resolve()
            assert dockerfile.is_file(), f"{name}: no {dockerfile}"
            assert f" AS {build['target']}" in dockerfile.read_text(), build


def test_env_files_have_committed_templates_and_stay_out_of_git(compose: dict[str, Any]) -> None:
    ignored = (INFRA / ".gitignore").read_text().split()
    for name, service in compose["services"].items():
        for file in service.get("env_file", []):
            assert env_template(file).is_file(), f"{name}: no template for {file}"
            assert file in ignored, f"{file} could be committed with real secrets"


# --- compose: what Keel needs ------------------------------------------------------------------


@pytest.mark.parametrize("name", KEEL_SERVICES)
def test_keel_services_get_every_production_setting(compose: dict[str, Any], name: str) -> None:
    env = service_env(compose, name)
    assert env.keys() >= PROFILE_NEEDS, PROFILE_NEEDS - env.keys()
    assert env["KEEL_PROFILE"] == "production"
    # pydantic-settings ignores unknown KEEL_* names: a typo would silently fall back to a default.
    fields = {f"KEEL_{field.upper()}" for field in Settings.model_fields}
    unknown = {key for key in env if key.startswith("KEEL_")} - fields
    assert not unknown, f"{name}: not Keel settings: {unknown}"


def test_keel_api_has_tokens_and_the_unedited_template_refuses_to_serve(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = service_env(compose, "keel-api")
    assert "KEEL_API_TOKENS" in env
    for key, value in env.items():
        if key.startswith("KEEL_"):
            monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.profile == "production"
    with pytest.raises(InsecureConfiguration, match="16 characters"):
        TokenAuth(settings)


def test_keel_settings_render_the_production_feature_store(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from keel.feast_plumbing.feature_store import repo_config

    for key, value in service_env(compose, "keel-materialize").items():
        if key.startswith("KEEL_"):
            monkeypatch.setenv(key, value)
    config = repo_config(Settings(home=tmp_path))
    assert config.online_store.type == "redis"
    assert "redis:6379" in config.online_store.connection_string
    assert config.registry.registry_type == "sql"
    assert "@postgres:5432/" in config.registry.path


def test_every_url_points_at_a_stack_service_and_its_port(compose: dict[str, Any]) -> None:
    keel, mlflow = service_env(compose, "keel-api"), service_env(compose, "mlflow")
    urls = {key: keel[key] for key in ("KEEL_REDIS_URL", "KEEL_POSTGRES_URL")}
    urls["KEEL_MLFLOW_TRACKING_URI"] = keel["KEEL_MLFLOW_TRACKING_URI"]
    urls |= {key: mlflow[key] for key in ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_S3_ENDPOINT_URL")}
    for key, url in urls.items():
        parts = urlsplit(url)
        assert parts.hostname in compose["services"], f"{key}: {parts.hostname} is no service"
        assert parts.port == listening_port(compose, parts.hostname), f"{key}: port {parts.port}"


def test_credentials_in_urls_match_the_servers(compose: dict[str, Any]) -> None:
    keel = service_env(compose, "keel-api")
    redis = urlsplit(keel["KEEL_REDIS_URL"])
    assert redis.password == service_env(compose, "redis")["REDIS_PASSWORD"]
    postgres = service_env(compose, "postgres")
    mlflow = service_env(compose, "mlflow")
    for url in (keel["KEEL_POSTGRES_URL"], mlflow["MLFLOW_BACKEND_STORE_URI"]):
        parts = urlsplit(url)
        assert (parts.username, parts.password) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
        )
    assert urlsplit(keel["KEEL_POSTGRES_URL"]).path == f"/{postgres['POSTGRES_DB']}"
    minio = service_env(compose, "minio")
    assert (mlflow["AWS_ACCESS_KEY_ID"], mlflow["AWS_SECRET_ACCESS_KEY"]) == (
        minio["MINIO_ROOT_USER"],
        minio["MINIO_ROOT_PASSWORD"],
    )


def test_mlflow_keeps_runs_in_postgres_and_proxies_artifacts_to_the_created_bucket(
    compose: dict[str, Any],
) -> None:
    mlflow = compose["services"]["mlflow"]
    env = service_env(compose, "mlflow")
    assert "--serve-artifacts" in mlflow["command"]
    destination = urlsplit(option(mlflow["command"], "--artifacts-destination") or "")
    assert destination.scheme == "s3"
    assert destination.hostname == env["MLFLOW_BUCKET"]
    assert "mc mb" in " ".join(compose["services"]["minio-buckets"]["entrypoint"])
    database = urlsplit(env["MLFLOW_BACKEND_STORE_URI"]).path.lstrip("/")
    assert f"CREATE DATABASE {database} " in (INFRA / "postgres/init-mlflow-db.sql").read_text()
    hosts = option(mlflow["command"], "--allowed-hosts") or ""
    assert "mlflow:5000" in hosts.split(","), "the API's Host header would be refused"


def test_keel_api_runs_several_workers_on_one_published_port(compose: dict[str, Any]) -> None:
    api = compose["services"]["keel-api"]
    command = api["command"]
    assert command[:2] == ["keel", "serve"]
    assert option(command, "--host") == "0.0.0.0"
    assert int(option(command, "--workers") or 1) > 1
    published = {port.rsplit(":", 2)[-1] for port in api["ports"]}
    assert option(command, "--port") in published


def test_materialization_job_runs_keel_features_materialize(compose: dict[str, Any]) -> None:
    job = compose["services"]["keel-materialize"]
    assert job["command"] == ["keel", "features", "materialize"]
    assert job["restart"] == "no"
    assert job["image"] == compose["services"]["keel-api"]["image"]


def test_dockerfile_installs_every_keel_package_under_the_constraints() -> None:
    dockerfile = (INFRA / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")}
    assert packages <= copied, f"packages the image would lack: {packages - copied}"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    assert "pip install -c constraints.txt ." in dockerfile


# --- Prometheus and Grafana --------------------------------------------------------------------


def prometheus_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((INFRA / "prometheus/prometheus.yml").read_text())
    return loaded


def keel_scrape_job() -> dict[str, Any]:
    jobs = [job for job in prometheus_config()["scrape_configs"] if job["job_name"] == "keel-api"]
    assert len(jobs) == 1, "expected one scrape job named keel-api"
    return jobs[0]


def test_prometheus_scrapes_keel_metrics_at_a_stack_service(compose: dict[str, Any]) -> None:
    job = keel_scrape_job()
    assert job.get("metrics_path", "/metrics") == "/metrics"
    (target,) = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host == "keel-api"
    assert int(port) == listening_port(compose, host)
    mounted = " ".join(compose["services"]["prometheus"]["volumes"])
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in mounted


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((INFRA / "grafana/dashboards/keel.json").read_text())
    return loaded


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def test_grafana_provisions_the_datasource_the_dashboard_names(compose: dict[str, Any]) -> None:
    provisioning = INFRA / "grafana/provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources/prometheus.yaml").read_text())[
        "datasources"
    ]
    assert urlsplit(source["url"]).hostname == "prometheus"
    uids = {panel["datasource"]["uid"] for panel in dashboard()["panels"]}
    assert uids == {source["uid"]}
    (provider,) = yaml.safe_load((provisioning / "dashboards/keel.yaml").read_text())["providers"]
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts


def test_dashboard_covers_traffic_latency_errors_predictions_drift_and_resources() -> None:
    exprs = "\n".join(dashboard_expressions())
    assert "histogram_quantile(0.95" in exprs and "keel_http_request_seconds_bucket" in exprs
    assert 'status!~"2.."' in exprs
    for metric in (
        "keel_http_requests_total",
        "keel_predictions_total",
        "keel_feature_violations_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert metric in exprs, metric


METRIC = re.compile(r"\b(?:keel|process|python)_[a-z0-9_]+\b")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHER = re.compile(r"([a-z_][a-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
SUFFIXES = {
    "counter": ("",),  # the TYPE line already names the `_total` series
    "gauge": ("",),
    "untyped": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}


@dataclass(frozen=True)
class Exposition:
    """What a `/metrics` scrape offers: series names (declared or sampled) and their labels."""

    series: frozenset[str]
    labels: dict[str, frozenset[str]]


def parse_exposition(text: str) -> Exposition:
    """Series names from `# TYPE` lines (with the type's suffixes, so a labelled metric with no
    child yet still counts) and from samples; label names per sampled series."""
    series: set[str] = set()
    labels: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            series.update(name + suffix for suffix in SUFFIXES[kind])
        elif line and not line.startswith("#"):
            name, _, rest = line.partition("{")
            name = name.split()[0]
            series.add(name)
            found = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', rest) if rest else []
            labels.setdefault(name, set()).update(found)
    return Exposition(frozenset(series), {k: frozenset(v) for k, v in labels.items()})


def test_exposition_parser_counts_declared_metrics_without_samples(
    in_process_metrics: None,
) -> None:
    """A labelled metric nobody has incremented yet (violations) still counts as exposed."""
    from prometheus_client import generate_latest

    from serving.metrics import Metrics

    metrics = Metrics(process_metrics=True)
    metrics.latency.labels("/v1/predict").observe(0.01)
    exposed = parse_exposition(generate_latest(metrics.registry).decode())
    assert {
        "keel_feature_violations_total",
        "keel_http_request_seconds_bucket",
        "keel_http_requests_total",
        "process_resident_memory_bytes",
    } <= exposed.series
    assert "keel_http_requests" not in exposed.series
    assert "keel_prediction_score_bucket" not in exposed.series
    assert exposed.labels["keel_http_request_seconds_bucket"] == {"route", "le"}
    assert "keel_feature_violations_total" not in exposed.labels


@pytest.fixture(scope="module")
def live_server(journey: DemoResult) -> Iterator[tuple[str, Exposition]]:
    """A real `keel serve` that answered one prediction, and its `/metrics` scrape after it."""
    (customer,) = sample_customers(journey.settings, 1)
    with running_server(journey.settings) as url:
        answer = httpx.post(f"{url}/v1/predict", json={"customer_id": customer}, timeout=30)
        assert answer.status_code == 200, answer.text
        scrape = httpx.get(f"{url}/metrics", timeout=10)
        assert scrape.status_code == 200
        yield url, parse_exposition(scrape.text)


@pytest.mark.integration
def test_every_metric_the_dashboard_queries_is_exposed_by_keel(
    live_server: tuple[str, Exposition],
) -> None:
    _, exposed = live_server
    used = {name for expr in dashboard_expressions() for name in METRIC.findall(expr)}
    assert used, "no metric names found in the dashboard"
    missing = used - exposed.series
    assert not missing, f"the dashboard queries metrics Keel does not expose: {sorted(missing)}"


@pytest.mark.integration
def test_every_label_the_dashboard_uses_is_on_its_series(
    live_server: tuple[str, Exposition],
) -> None:
    """A misspelt label gives an empty panel, not an error: check them against real samples."""
    _, exposed = live_server
    for expr in dashboard_expressions():
        sampled = [exposed.labels[m] for m in METRIC.findall(expr) if m in exposed.labels]
        if not sampled:  # e.g. violations before any violation: no child, no labels to compare
            continue
        available = SERVED_LABELS.union(*sampled)
        used = {
            label.strip()
            for group in GROUPING.findall(expr)
            for label in group.split(",")
            if label.strip()
        }
        used |= set(MATCHER.findall(expr))
        assert used <= available, f"{expr}: labels {used - available} are not exposed"


PROMETHEUS = "/usr/bin/prometheus"


@pytest.mark.integration
def test_real_prometheus_scrapes_keel_and_answers_a_query(
    live_server: tuple[str, Exposition], tmp_path: Path
) -> None:
    """Debian's Prometheus with infra's scrape job, pointed at the live server."""
    binary = shutil.which("prometheus") or (PROMETHEUS if Path(PROMETHEUS).exists() else None)
    if binary is None:
        skip_or_fail("prometheus is not installed (apt-get install prometheus)")
    url, _ = live_server
    job = {**keel_scrape_job(), "scrape_interval": "1s"}
    job["static_configs"] = [{"targets": [urlsplit(url).netloc]}]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": [job]}))
    port = free_port()
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        result = _query_until_found(
            f"http://127.0.0.1:{port}", "keel_predictions_total", process, log
        )
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert result["metric"]["job"] == "keel-api"
    assert float(result["value"][1]) >= 1


def _query_until_found(
    base: str, query: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 20.0
) -> dict[str, Any]:
    """The first series of an instant query once Prometheus has scraped it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            answer = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=2)
            results: list[dict[str, Any]] = answer.json()["data"]["result"]
            if results:
                return results[0]
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    pytest.fail(f"prometheus never returned {query}: {log.read_text(errors='replace')[-2000:]}")


# --- the README's production order: `features apply` before `infra up` -------------------------


@pytest.fixture
def missing_databases(postgres_url: str) -> Iterator[tuple[str, str]]:
    """Two database URLs on the test server that do not exist yet; dropped afterwards."""
    base = postgres_url.rpartition("/")[0]
    names = [f"keel_apply_{uuid.uuid4().hex[:10]}", f"keel_apply_mlflow_{uuid.uuid4().hex[:10]}"]
    try:
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.integration
def test_features_apply_creates_the_production_databases_before_infra_up(
    missing_databases: tuple[str, str],
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a fresh machine `keel features apply` comes first and creates the databases the
    profile names (as `keel infra up` would), instead of Feast's "does not exist" traceback."""
    from keel.core.settings import get_settings
    from keel.feast_plumbing.feature_store import open_store
    from synthetic.churn_dataset import generate_dataset

    registry, mlflow_store = missing_databases
    env = {
        "KEEL_HOME": str(tmp_path / "ws"),
        "KEEL_PROFILE": "production",
        "KEEL_PROJECT": f"apply{uuid.uuid4().hex[:8]}",
        "KEEL_REDIS_URL": redis_url,
        "KEEL_POSTGRES_URL": registry,
        "KEEL_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "KEEL_MLFLOW_BACKEND_STORE_URI": mlflow_store,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        settings = get_settings()
        generate_dataset(settings, customers=60, days=40, seed=1)

        first = CliRunner().invoke(app, ["features", "apply"])
        assert first.exit_code == 0, first.output
        again = CliRunner().invoke(app, ["features", "apply"])
        service = open_store(settings).get_feature_service(settings.feature_service)
    finally:
        get_settings.cache_clear()

    created = [line for line in first.output.splitlines() if line.startswith("created database")]
    names = [url.rpartition("/")[2] for url in missing_databases]
    assert created == [f"created database {name}" for name in names]
    assert again.exit_code == 0, again.output
    assert "created database" not in again.output
    assert service.name == settings.feature_service
    with psycopg.connect(registry) as connection:
        tables = {row[0] for row in connection.execute("SELECT tablename FROM pg_tables")}
    assert "feature_services" in tables  # Feast's SQL registry lives in the created database

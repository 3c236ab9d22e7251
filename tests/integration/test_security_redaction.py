"""Secrets (URL passwords, `password=` values, API tokens) never reach a log line, an error
message or a printed traceback: real commands and a real server, with password-bearing URLs."""

from __future__ import annotations

import io
import logging
import logging.config
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel.cli.demo_journey import DemoResult
from keel.core.redaction import RedactingFilter, configured_secrets, redact
from keel.core.settings import Settings
from keel.ops.server_process import free_port, server_process

pytestmark = pytest.mark.integration

PASSWORD = "Hunter2-db-secret"
TOKEN = "tok-9f8e7d6c5b4a39281706"
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}


def keel(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real `keel` command in a child process: its whole stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "keel.cli.main", *args],
        env={**CLEAN_ENV, "KEEL_HOME": str(home), "COLUMNS": "400", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_filter_redacts_message_arguments_and_exception_text() -> None:
    settings = Settings(
        api_tokens=f"{TOKEN}=predict", redis_url=f"redis://:{PASSWORD}@cache:6379/0"
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter.from_settings(settings))
    logger = logging.getLogger("keel.test_redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("connecting to %s", f"postgresql://keel:{PASSWORD}@db:5432/keel")
        logger.warning("feast redis %s", f"cache:6379,db=0,password={PASSWORD},ssl=true")
        logger.warning("token %s and %d retries", TOKEN, 3)
        try:
            raise ConnectionError(f"cannot reach redis://:{PASSWORD}@cache:6379 with {TOKEN}")
        except ConnectionError:
            logger.exception("lost the store")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert PASSWORD not in text and TOKEN not in text
    assert "postgresql://keel:***@db:5432/keel" in text
    assert "password=***,ssl=true" in text
    assert "token *** and 3 retries" in text
    assert "ConnectionError: cannot reach redis://:***@cache:6379 with ***" in text


def test_every_configured_url_password_is_a_secret_to_mask(make_settings: Any) -> None:
    settings = make_settings(
        redis_url=f"redis://:{PASSWORD}-r@cache:6379/0",
        postgres_url=f"postgresql://keel:{PASSWORD}-p@db/keel",
        mlflow_tracking_uri=f"http://keel:{PASSWORD}-t@mlflow:5000",
        mlflow_backend_store_uri=f"postgresql://mlflow:{PASSWORD}-b@db/mlflow",
    )
    secrets = configured_secrets(settings)
    assert {f"{PASSWORD}-{k}" for k in "rptb"} <= set(secrets)
    assert (
        redact(f"bare {PASSWORD}-b in a driver message", secrets) == "bare *** in a driver message"
    )


def test_redact_leaves_urls_without_passwords_alone() -> None:
    for text in ("http://mlflow:5000/api", "redis://127.0.0.1:6379/0", "see host:8000/x@y"):
        assert redact(text) == text


def test_cli_error_names_the_log_database_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://keel:{PASSWORD}@127.0.0.1:{free_port()}/keel"
    done = keel(
        tmp_path / "home",
        *("predictions", "export", "--out", str(tmp_path / "p.parquet")),
        KEEL_PROFILE="production",
        KEEL_POSTGRES_URL=url,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert PASSWORD not in output
    assert "cannot reach the prediction log database at postgresql://keel:***@127.0.0.1" in output


def test_an_uncaught_backend_error_prints_its_url_redacted(tmp_path: Path) -> None:
    """MLflow's own exception names the tracking URL, password included; Keel's hook redacts
    it before Typer prints the traceback."""
    done = keel(
        tmp_path / "home",
        *("models", "list"),
        KEEL_MLFLOW_TRACKING_URI=f"http://keel:{PASSWORD}@127.0.0.1:{free_port()}/",
        KEEL_API_TOKENS=f"{TOKEN}=admin",
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        MLFLOW_HTTP_REQUEST_TIMEOUT="5",
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert PASSWORD not in output and TOKEN not in output
    assert "http://keel:***@127.0.0.1" in output


def test_worker_logging_config_redacts_uvicorn_and_keel_records(tmp_path: Path) -> None:
    """What each `keel serve` worker applies (uvicorn's dictConfig), in a fresh process."""
    script = (
        "import logging, logging.config\n"
        "from keel.core.redaction import uvicorn_log_config\n"
        "logging.config.dictConfig(uvicorn_log_config())\n"
        f"logging.getLogger('uvicorn.error').error('startup: redis://:{PASSWORD}@r:6379')\n"
        f"logging.getLogger('serving.runtime').warning('token {TOKEN} refused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**CLEAN_ENV, "KEEL_API_TOKENS": f"{TOKEN}=predict"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert PASSWORD not in output and TOKEN not in output
    assert "startup: redis://:***@r:6379" in output
    assert "serving.runtime: token *** refused" in output


def test_server_log_never_holds_the_password_or_a_token(
    journey: DemoResult, tmp_path: Path
) -> None:
    """`keel serve` whose MLflow server URL carries a password and is down, called with a
    wrong and a right token: the log names the server redacted and holds no secret."""
    home = tmp_path / "keel-home"
    shutil.copytree(journey.settings.home, home, ignore=shutil.ignore_patterns("predictions"))
    settings = Settings(
        **{
            **journey.settings.model_dump(),
            "home": home,
            "api_tokens": f"{TOKEN}=predict",
            "mlflow_tracking_uri": f"http://keel:{PASSWORD}@127.0.0.1:{free_port()}/",
        }
    )
    log_file = tmp_path / "server.log"
    served = server_process(settings, log_file=log_file, timeout=240)
    with served as (url, _), httpx.Client(base_url=url, timeout=30) as http:
        wrong = http.post(
            "/v1/predict",
            json={"customer_id": 1},
            headers={"authorization": "Bearer not-the-token-0000"},
        )
        right = http.post(
            "/v1/predict", json={"customer_id": 1}, headers={"authorization": f"Bearer {TOKEN}"}
        )
    assert wrong.status_code == 401
    assert right.status_code in {200, 503}  # the cached champion, or none: the registry is down
    log = log_file.read_text(errors="replace")
    assert PASSWORD not in log and TOKEN not in log
    assert "keel:***@127.0.0.1" in log

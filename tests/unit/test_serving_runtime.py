"""The alias-following loop on a real MLflow registry (SQLite): what it logs while there is no
model (the truth, once, not every interval) and what `/metrics` says each alias points to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from serving_fakes import FakeFeatures, loaded_model

from keel.core.settings import Settings
from keel.core.workspace import Workspace
from registry.client import mlflow_client
from registry.models import LoadedModel
from serving.log_sqlite import SqlitePredictionLog
from serving.metrics import Metrics
from serving.model_cache import ModelCache
from serving.predictor import Predictor
from serving.runtime import Runtime


def _load(_: MlflowClient, version: ModelVersion) -> LoadedModel:
    """Versions registered here have placeholder sources: load a fitted pipeline instead."""
    return loaded_model(str(version.version))


def runtime_on_registry(settings: Settings, tmp_path: Path) -> tuple[Runtime, MlflowClient]:
    Workspace.from_settings(settings).ensure()
    client = mlflow_client(settings)
    models = ModelCache(
        client, settings.model_name, loader=_load, expectations_loader=lambda *_: None
    )
    predictor = Predictor(models, FakeFeatures(), code_commit="test")
    log = SqlitePredictionLog(tmp_path / "predictions.db")
    return Runtime(settings, None, predictor, log, Metrics()), client  # type: ignore[arg-type]


def register(client: MlflowClient, name: str, count: int) -> None:
    client.create_registered_model(name)
    for number in range(1, count + 1):
        client.create_model_version(name, source=f"/nowhere/{number}")


def checks(runtime: Runtime, outcome: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "keel_model_reloads_total", {"outcome": outcome}
    )
    return value or 0.0


def follow_until(runtime: Runtime, outcome: str, count: int) -> None:
    """Run the server's alias-following loop until it made `count` checks with `outcome`."""

    async def run() -> None:
        follower = asyncio.create_task(runtime.follow_aliases())
        for _ in range(600):
            if checks(runtime, outcome) >= count:
                break
            await asyncio.sleep(0.05)
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        assert checks(runtime, outcome) >= count, f"fewer than {count} {outcome} checks"

    asyncio.run(run())


def gauge(runtime: Runtime, alias: str) -> float | None:
    return runtime.metrics.registry.get_sample_value(
        "keel_model_version", {"model": "churn", "alias": alias}
    )


def test_without_a_model_the_loop_says_so_once_and_what_to_run(
    make_settings: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, client = runtime_on_registry(make_settings(reload_interval=0.1), tmp_path)
    try:
        with caplog.at_level(logging.INFO, logger="serving.runtime"):
            follow_until(runtime, "failed", 4)  # four intervals without a model
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith("no model to serve and none cached (model churn@champion")
        assert "not ready" in warnings[0] and "`keel train`" in warnings[0]
        assert "still serving" not in caplog.text

        caplog.clear()
        register(client, "churn", 1)
        client.set_registered_model_alias("churn", "champion", "1")
        with caplog.at_level(logging.INFO, logger="serving.runtime"):
            follow_until(runtime, "unchanged", 1)  # the first finds it, the next: no change
        assert [r.getMessage() for r in caplog.records] == [
            "alias check succeeded again: serving {'champion': '1', 'challenger': None}"
        ]
        assert runtime.alias_problem is None
    finally:
        runtime.close()


def test_metrics_report_the_version_each_alias_points_to(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A challenger on the champion's version is still reported (it used to read 0)."""
    runtime, client = runtime_on_registry(make_settings(), tmp_path)
    try:
        register(client, "churn", 3)
        client.set_registered_model_alias("churn", "champion", "3")
        client.set_registered_model_alias("churn", "challenger", "3")
        runtime.reload()
        assert (gauge(runtime, "champion"), gauge(runtime, "challenger")) == (3.0, 3.0)
        current = runtime.predictor.models.current
        assert current is not None and current.challenger is None  # served once, as champion

        client.set_registered_model_alias("churn", "challenger", "2")
        assert runtime.reload()
        assert (gauge(runtime, "champion"), gauge(runtime, "challenger")) == (3.0, 2.0)

        client.delete_registered_model_alias("churn", "challenger")
        assert runtime.reload()
        assert (gauge(runtime, "champion"), gauge(runtime, "challenger")) == (3.0, 0.0)
    finally:
        runtime.close()

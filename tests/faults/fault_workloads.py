"""The models the per-model fault tests run against, each on a private copy of the session's
workspace: the built-in churn example (`/v1/predict`, the journey's workspace) and the delivery
example's regression model (`/v1/models/delivery_minutes/predict`, composite string keys and
request fields; `tests/delivery_workspace.py`)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fault_services import TOKEN, copy_home, production_settings, serve

from keel.cli.demo_journey import sample_customers
from keel.core.settings import Settings
from tests.predict_requests import Requests, churn_requests, model_requests

MODELS = ("churn", "delivery_minutes")
CHURN_KEYS = ("customer_id",)
DELIVERY_KEYS = ("courier_id", "zone_id")
TASKS = {"delivery_minutes": "regression", "late_delivery": "binary"}


@dataclass(frozen=True)
class Workload:
    """One model's private workspace, the requests that load it, and how to serve it."""

    settings: Settings
    requests: Requests
    join_keys: tuple[str, ...]
    task: str
    environ: dict[str, str]
    """`KEEL_CONFIG` for a keel.yaml model; empty for the built-in churn example."""
    materialize: Callable[[], None]
    """Write its features into the online store again (after a Redis lost them)."""

    def serve(self, log_file: Path) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
        return serve(self.settings, log_file, environ=self.environ)


def local_workload(model: str, request: pytest.FixtureRequest, root: Path) -> Workload:
    """`model` on a private copy of the session's workspace, local profile (SQLite log)."""
    if model == "churn":
        journey = request.getfixturevalue("journey")
        home = copy_home(journey.settings, root / "home")
        settings = Settings(**{**journey.settings.model_dump(), "home": home})
        requests = churn_requests(sample_customers(settings, 20))
        return Workload(settings, requests, CHURN_KEYS, "binary", {}, _nothing)
    from tests.delivery_workspace import copy_delivery, one_order_bodies

    copy = copy_delivery(request.getfixturevalue("delivery"), root / "delivery")
    requests = model_requests(model, one_order_bodies(copy, 20))
    return Workload(copy.settings, requests, DELIVERY_KEYS, TASKS[model], copy.environ, _nothing)


def production_workload(
    model: str,
    request: pytest.FixtureRequest,
    root: Path,
    *,
    redis_url: str,
    database: str,
    **overrides: Any,
) -> Workload:
    """`model` on a private copy of the session's workspace in the production profile: its
    features materialized into the Redis at `redis_url`, its log on PostgreSQL `database`."""
    if model == "churn":
        from keel.feast_plumbing.features import materialize

        home = copy_home(request.getfixturevalue("journey").settings, root / "home")
        settings = production_settings(home, redis_url=redis_url, database=database, **overrides)
        requests = churn_requests(sample_customers(settings, 50))
        return Workload(settings, requests, CHURN_KEYS, "binary", {}, lambda: materialize(settings))
    from keel.core.backends import feast_redis_connection
    from keel.core.workspace import Workspace
    from tests.delivery_workspace import copy_delivery, one_order_bodies, use_redis_online_store

    home = root / "delivery" / "ws"
    copy = copy_delivery(
        request.getfixturevalue("delivery"),
        root / "delivery",
        profile="production",
        redis_url=redis_url,
        postgres_url=database,
        mlflow_tracking_uri=f"sqlite:///{Workspace(home).mlflow_db}",
        api_tokens=f"{TOKEN}=predict+feedback",
        **overrides,
    )
    connection = feast_redis_connection(redis_url)
    use_redis_online_store(copy, connection)
    requests = model_requests(model, one_order_bodies(copy, 50))
    return Workload(
        copy.settings,
        requests,
        DELIVERY_KEYS,
        TASKS[model],
        copy.environ,
        lambda: use_redis_online_store(copy, connection),
    )


def _nothing() -> None:
    """A local workload's online store (SQLite) is never lost."""

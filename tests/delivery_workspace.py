"""The delivery example as one test session's workspace, built once (`conftest.delivery`):
copied, generated small, applied with Feast's CLI, both models trained with real MLflow (each
with a `champion`) and materialized. Tests serve a private copy of it (`copy_delivery`), as the
churn tests copy the journey's workspace, and send it requests shaped as Feast's (`columns`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from keel.core.settings import Settings

MODELS = ("delivery_minutes", "late_delivery")
REQUEST = ("courier_id", "zone_id", "distance_km", "order_hour")
"""The join keys and request fields both delivery models take."""
CANDIDATES = {"delivery_minutes": ["ridge"], "late_delivery": ["logistic_regression"]}
"""The baselines always run too: enough to serve, and quick to train."""


@dataclass(frozen=True)
class DeliveryWorkspace:
    root: Path
    """The example's copy: keel.yaml, feature_repo/ (registry and online store) and data/."""
    settings: Settings
    """Keel's workspace of it (MLflow, prediction log) at `root / "ws"`."""

    @property
    def config(self) -> Path:
        return self.root / "keel.yaml"

    @property
    def orders(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / "data" / "orders.parquet")

    @property
    def environ(self) -> dict[str, str]:
        """What a `keel` process needs to serve this project (beside its settings)."""
        return {"KEEL_CONFIG": str(self.config)}


def build_delivery_workspace(root: Path) -> DeliveryWorkspace:
    """Apply, train (quick candidates) and promote both models, then materialize: at `root`."""
    from keel.core.project import load_project
    from keel.feast_plumbing.project_checks import open_store
    from registry.client import mlflow_client
    from tests.integration.delivery_example import applied_example
    from training.model_train import train_model

    applied_example(root)
    config = yaml.safe_load((root / "keel.yaml").read_text())
    for model in config["models"]:
        model["candidates"] = CANDIDATES[model["name"]]
    (root / "keel.yaml").write_text(yaml.safe_dump(config))
    project = load_project(root / "keel.yaml")
    settings = Settings(home=root / "ws", actor="tester")
    client = mlflow_client(settings)
    for name in MODELS:
        result = train_model(settings, project, name)
        client.set_registered_model_alias(name, "champion", result.model_version)
    open_store(project).materialize(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
    return DeliveryWorkspace(root, settings)


def copy_delivery(workspace: DeliveryWorkspace, root: Path, **overrides: Any) -> DeliveryWorkspace:
    """A private copy at `root` without the prediction log or serving caches (the session's
    stays untouched), its settings with `overrides`."""
    ignored = shutil.ignore_patterns("predictions", "serving")
    shutil.copytree(workspace.root, root, ignore=ignored, dirs_exist_ok=True)
    values = {**workspace.settings.model_dump(), "home": root / "ws", **overrides}
    return DeliveryWorkspace(root, Settings(**values))


def use_redis_online_store(workspace: DeliveryWorkspace, connection_string: str) -> None:
    """Point the copy's Feast repo at a Redis online store (Feast's `host:port,db=N` string) and
    materialize into it; the registry and offline files stay as they are."""
    from keel.core.project import load_project
    from keel.feast_plumbing.project_checks import open_store

    path = workspace.root / "feature_repo" / "feature_store.yaml"
    config = yaml.safe_load(path.read_text())
    config["online_store"] = {"type": "redis", "connection_string": connection_string}
    path.write_text(yaml.safe_dump(config))
    store = open_store(load_project(workspace.config))
    store.materialize(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))


def columns(orders: pd.DataFrame) -> dict[str, list[Any]]:
    """Feast's columnar request for `orders`: join keys and request fields."""
    return {name: orders[name].tolist() for name in REQUEST}


def one_order_bodies(workspace: DeliveryWorkspace, count: int) -> list[dict[str, Any]]:
    """`count` request bodies of one order each (distinct orders), for a load loop."""
    orders = workspace.orders.drop_duplicates(["courier_id", "zone_id"]).iloc[:count]
    return [{"entities": columns(orders.iloc[[i]])} for i in range(len(orders))]

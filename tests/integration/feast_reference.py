"""Feast's own online answer in the `FeatureSource` shape the direct reads return, and the
set-up of Feast repos for the direct-read tests (apply, a Redis online store)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from feast import FeatureStore


def feast_rows(
    store: FeatureStore, service: str, entities: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any] | None]:
    """`get_online_features` per entity: the service's features (join keys and request fields
    left out), None when none of its stored (not on-demand) features has a value."""
    feature_service = store.get_feature_service(service)
    on_demand = {view.name for view in store.list_on_demand_feature_views()}
    stored = [
        f.name
        for p in feature_service.feature_view_projections
        if p.name not in on_demand
        for f in p.features
    ]
    columns = store.get_online_features(
        features=feature_service, entity_rows=[dict(e) for e in entities]
    ).to_dict()
    given = {name for entity in entities for name in entity}
    out: list[dict[str, Any] | None] = []
    for i in range(len(entities)):
        row = {name: column[i] for name, column in columns.items() if name not in given}
        out.append(row if any(row[name] is not None for name in stored) else None)
    return out


def feast_apply(repo: Path) -> None:
    """`feast apply` in `repo`, with Feast's own CLI."""
    feast = Path(sys.executable).parent / "feast"
    done = subprocess.run(
        [str(feast), "apply"], cwd=repo, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def use_redis(repo: Path, url: str) -> None:
    """Rewrite `repo`'s feature_store.yaml for a Redis online store at `url` (redis://host:port/db)
    under a project of its own, so runs never share keys."""
    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    config = yaml.safe_load((repo / "feature_store.yaml").read_text())
    config["project"] = f"{config['project']}_{uuid.uuid4().hex[:8]}"
    config["online_store"] = {
        "type": "redis",
        "connection_string": f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379},db={db}",
    }
    (repo / "feature_store.yaml").write_text(yaml.safe_dump(config))

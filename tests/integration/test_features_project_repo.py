"""`keel features apply|materialize` on keel.yaml's Feast repo (the delivery example), run from
another directory with KEEL_CONFIG: paths resolve as Feast resolves them, relative to the repo,
and the online store holds each key's latest row (data months old: one TTL back from now, as
`feast materialize-incremental` looks, would load nothing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from feast import FeatureStore

from keel.core.errors import InvalidProject, WorkspaceNotReady
from keel.core.project import load_project
from keel.feast_plumbing.features import apply_project, materialize_project
from tests.integration.delivery_example import EXAMPLE, load_generator

KEEL = Path(sys.executable).parent / "keel"


def keel(*args: str, config: Path, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEL_", "FEAST_"))}
    env.update(KEEL_CONFIG=str(config), KEEL_HOME=str(home))
    return subprocess.run(
        [str(KEEL), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The delivery example copied and generated small, not yet applied."""
    root = tmp_path_factory.mktemp("delivery")
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("data"))
    load_generator()(root, couriers=30, days=20, seed=3)
    return root


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory that is neither the project's nor the repo's."""
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture(scope="module")
def applied(example: Path, elsewhere: Path) -> str:
    done = keel(
        "features", "apply", config=example / "keel.yaml", cwd=elsewhere, home=elsewhere / "h"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def materialized(example: Path, elsewhere: Path, applied: str) -> str:
    done = keel(
        "features",
        "materialize",
        config=example / "keel.yaml",
        cwd=elsewhere,
        home=elsewhere / "h",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_apply_registers_the_project_repo_with_feast(
    example: Path, elsewhere: Path, applied: str
) -> None:
    assert f"Feast repo {example / 'feature_repo'}" in applied
    store = FeatureStore(repo_path=str(example / "feature_repo"))
    assert sorted(s.name for s in store.list_feature_services()) == [
        "delivery_eta_v1",
        "late_risk_v1",
    ]
    assert sorted(v.name for v in store.list_on_demand_feature_views()) == ["order_features"]
    # Registry and online store where the repo's feature_store.yaml puts them, not in the cwd.
    assert (example / "feature_repo" / "data" / "registry.db").is_file()
    assert not (elsewhere / "data").exists()


def test_materialize_loads_each_keys_latest_row(example: Path, materialized: str) -> None:
    assert "materialized" in materialized and "courier_zone_stats" in materialized
    data = example / "feature_repo" / "data"
    couriers = pd.read_parquet(data / "courier_daily.parquet")
    pairs = pd.read_parquet(data / "courier_zone_weekly.parquet")
    courier = couriers.sort_values("event_timestamp").iloc[-1]
    pair = pairs.sort_values("event_timestamp").iloc[-1]
    latest_courier = (
        couriers[couriers["courier_id"] == courier["courier_id"]]
        .sort_values("event_timestamp")
        .iloc[-1]
    )
    latest_pair = pairs[
        (pairs["courier_id"] == pair["courier_id"]) & (pairs["zone_id"] == pair["zone_id"])
    ].sort_values("event_timestamp")
    store = FeatureStore(repo_path=str(example / "feature_repo"))
    online = store.get_online_features(
        features=["courier_zone_stats:deliveries_in_zone_28d"],
        entity_rows=[{"courier_id": pair["courier_id"], "zone_id": pair["zone_id"]}],
    ).to_dict()
    assert online["deliveries_in_zone_28d"] == [int(latest_pair.iloc[-1]["deliveries_in_zone_28d"])]
    rows = store.get_online_features(
        features=["courier_stats:rating", "courier_stats:recent_zones"],
        entity_rows=[{"courier_id": courier["courier_id"]}],
    ).to_dict()
    assert rows["rating"] == [pytest.approx(latest_courier["rating"])]
    assert rows["recent_zones"] == [list(latest_courier["recent_zones"])]


def test_materialize_window_is_a_user_error_when_empty(example: Path, elsewhere: Path) -> None:
    done = keel(
        "features",
        "materialize",
        "--start",
        "2026-03-10",
        "--end",
        "2026-03-01",
        config=example / "keel.yaml",
        cwd=elsewhere,
        home=elsewhere / "h",
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: --start 2026-03-10 00:00 is not before --end")
    assert "Traceback" not in done.stderr


def test_apply_of_a_project_without_a_feast_repo_is_one_error_line(
    tmp_path: Path, elsewhere: Path
) -> None:
    (tmp_path / "keel.yaml").write_text(
        "feature_repo: nowhere\n"
        "models:\n"
        "  - {name: m, feature_service: s, labels: l.parquet, label: y, task: binary}\n"
    )
    done = keel("features", "apply", config=tmp_path / "keel.yaml", cwd=elsewhere, home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "holds no feature_store.yaml" in done.stderr


def test_a_repo_feast_cannot_apply_is_one_error_line_with_feasts_reason(
    example: Path, tmp_path: Path
) -> None:
    shutil.copytree(example, tmp_path, dirs_exist_ok=True)
    broken = tmp_path / "feature_repo" / "delivery_features.py"
    broken.write_text(broken.read_text() + "\nundefined_name + 1\n")
    with pytest.raises(InvalidProject, match=r"`feast apply` failed: NameError: .*undefined_name"):
        apply_project(load_project(tmp_path / "keel.yaml"))


def test_materialize_names_a_missing_table_by_its_path_in_the_repo(
    example: Path, applied: str, tmp_path: Path
) -> None:
    shutil.copytree(example, tmp_path, dirs_exist_ok=True)
    missing = tmp_path / "feature_repo" / "data" / "zone_daily.parquet"
    missing.unlink()
    with pytest.raises(WorkspaceNotReady, match=f"{missing} is missing .*'zone_conditions'"):
        materialize_project(load_project(tmp_path / "keel.yaml"))

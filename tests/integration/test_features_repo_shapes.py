"""Repo shapes a data scientist's Feast repo may have, through `keel features apply|materialize`:
an int64 key and a string key, a composite key of both, a view fed by a push source, a label
view (a plain view holding the label that no service uses) and a Feast `LabelView`, list and
bool fields, an on-demand view over a request source. Built small in a temporary repo, once with
Feast's SQLite online store (Feast materializes) and once with Redis (Keel's Redis writer)."""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from feast import FeatureStore

from keel.core.backends import feast_redis_connection
from keel.core.errors import BackendUnavailable
from keel.core.project import Project, load_project
from keel.feast_plumbing.features import ApplySummary, apply_project, materialize_project
from keel.ops.server_process import free_port
from tests.conftest import require_service

DAY0 = datetime(2026, 1, 5, tzinfo=UTC)

DEFINITIONS = """
from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource
from feast import RequestSource
from feast.labeling.label_view import LabelView
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Array, Bool, Float64, Int64, String
from feast.value_type import ValueType

shop = Entity(name="shop", join_keys=["shop_id"], value_type=ValueType.INT64)
item = Entity(name="item", join_keys=["sku"], value_type=ValueType.STRING)


def parquet(name):
    return FileSource(name=name, path=f"data/{name}.parquet", timestamp_field="event_timestamp")


shop_stats = FeatureView(
    name="shop_stats",
    entities=[shop],
    ttl=timedelta(days=2),
    schema=[
        Field(name="footfall", dtype=Int64),
        Field(name="region", dtype=String),
        Field(name="open_hours", dtype=Array(Int64)),
    ],
    source=parquet("shop_daily"),
)
item_prices = PushSource(name="item_prices", batch_source=parquet("item_daily"))
item_stats = FeatureView(
    name="item_stats",
    entities=[item],
    ttl=timedelta(days=2),
    schema=[
        Field(name="price", dtype=Float64),
        Field(name="on_sale", dtype=Bool),
        Field(name="tags", dtype=Array(String)),
    ],
    source=item_prices,
)
shop_item_stock = FeatureView(
    name="shop_item_stock",
    entities=[shop, item],
    ttl=timedelta(days=8),
    schema=[Field(name="stock", dtype=Int64)],
    source=parquet("shop_item_weekly"),
)
order_returned = FeatureView(  # the label, as a view: no service uses it
    name="order_returned",
    entities=[shop, item],
    ttl=timedelta(0),
    schema=[Field(name="was_returned", dtype=Int64)],
    source=parquet("returns"),
)
item_quality = LabelView(
    name="item_quality",
    entities=[item],
    schema=[
        Field(name="sku", dtype=String),
        Field(name="is_defective", dtype=Int64),
        Field(name="labeler", dtype=String),
    ],
    source=PushSource(name="item_quality_push", batch_source=parquet("quality")),
)
basket = RequestSource(name="basket", schema=[Field(name="quantity", dtype=Int64)])


@on_demand_feature_view(
    sources=[item_stats, basket], schema=[Field(name="basket_value", dtype=Float64)]
)
def basket_value(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=inputs.index)
    out["basket_value"] = inputs["price"] * inputs["quantity"]
    return out


demand_v1 = FeatureService(
    name="demand_v1", features=[shop_stats, item_stats, shop_item_stock, basket_value]
)
"""

FEATURE_STORE = """\
project: shapes
provider: local
registry: data/registry.db
online_store:
{online_store}
offline_store:
  type: file
entity_key_serialization_version: 3
auth:
  type: no_auth
"""

KEEL_YAML = """\
feature_repo: repo
models:
  - {name: returns, feature_service: demand_v1, labels: labels.parquet, label: was_returned,
     task: binary}
"""


def daily(days: int, **columns: object) -> pd.DataFrame:
    """One row per day and key: `columns` hold per-key lists, repeated each day with the day
    number added to numbers (so the latest row is recognisable)."""
    frames = []
    for day in range(days):
        frame = pd.DataFrame(columns)
        frame["event_timestamp"] = DAY0 + timedelta(days=day)
        for name in ("footfall", "price", "stock"):
            if name in frame:
                frame[name] = frame[name] + day
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_repo(root: Path, online_store: str) -> Project:
    repo = root / "repo"
    data = repo / "data"
    data.mkdir(parents=True)
    (repo / "shop.py").write_text(textwrap.dedent(DEFINITIONS))
    (repo / "feature_store.yaml").write_text(FEATURE_STORE.format(online_store=online_store))
    (root / "keel.yaml").write_text(KEEL_YAML)
    daily(
        5,
        shop_id=[1, 2],
        footfall=[100, 200],
        region=["north", "south"],
        open_hours=[[8, 20], [9, 18]],
    ).to_parquet(data / "shop_daily.parquet")
    daily(
        5,
        sku=["a-1", "007"],
        price=[2.5, 10.0],
        on_sale=[True, False],
        tags=[["fresh"], ["frozen", "bulk"]],
    ).to_parquet(data / "item_daily.parquet")
    daily(3, shop_id=[1, 1, 2], sku=["a-1", "007", "007"], stock=[5, 6, 7]).to_parquet(
        data / "shop_item_weekly.parquet"
    )
    daily(2, shop_id=[1, 2], sku=["a-1", "007"], was_returned=[0, 1]).to_parquet(
        data / "returns.parquet"
    )
    daily(1, sku=["a-1"], is_defective=[0], labeler=["qa"]).to_parquet(data / "quality.parquet")
    daily(2, shop_id=[1, 2], sku=["a-1", "007"], quantity=[2, 3], was_returned=[0, 1]).to_parquet(
        root / "labels.parquet"
    )
    return load_project(root / "keel.yaml")


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    if request.param == "sqlite":
        online_store = "  type: sqlite\n  path: data/online_store.db"
    else:
        url = os.environ.get("KEEL_REDIS_URL", "redis://127.0.0.1:6379/0")
        require_service(url, "Redis")
        online_store = f"  type: redis\n  connection_string: {feast_redis_connection(url)}"
    return write_repo(tmp_path_factory.mktemp(f"shapes-{request.param}"), online_store)


@pytest.fixture(scope="module")
def applied(project: Project) -> ApplySummary:
    return apply_project(project)


@pytest.fixture(scope="module")
def steps(project: Project, applied: ApplySummary) -> list[str]:
    """The progress steps of `materialize_project`; the views it returns come last."""
    steps: list[str] = []
    views = materialize_project(project, on_step=steps.append)
    return [*steps, ",".join(sorted(views))]


@pytest.fixture(scope="module")
def materialized(steps: list[str]) -> list[str]:
    return steps[-1].split(",")


@pytest.fixture(scope="module")
def store(project: Project, steps: list[str]) -> FeatureStore:
    return FeatureStore(repo_path=str(project.feature_repo))


def test_apply_registers_every_shape(applied: ApplySummary) -> None:
    assert sorted(applied.entities) == ["item", "shop"]
    assert sorted(applied.feature_views) == [
        "item_stats",
        "order_returned",
        "shop_item_stock",
        "shop_stats",
    ]
    assert applied.on_demand_views == ["basket_value"]
    assert applied.label_views == ["item_quality"]
    assert applied.feature_services == ["demand_v1"]


def test_materialize_loads_every_plain_view_but_not_the_label_view(
    materialized: list[str], steps: list[str], store: FeatureStore
) -> None:
    assert materialized == ["item_stats", "order_returned", "shop_item_stock", "shop_stats"]
    by_keel = [step for step in steps if "Keel's Redis writer" in step]
    if store.config.online_store.type == "redis":  # every view through Keel's writer
        assert len(by_keel) == 1 and all(name in by_keel[0] for name in materialized)
    else:
        assert not by_keel


def test_int_string_composite_push_and_list_values_are_served(store: FeatureStore) -> None:
    online = store.get_online_features(
        features=store.get_feature_service("demand_v1"),
        entity_rows=[
            {"shop_id": 1, "sku": "a-1", "quantity": 2},
            {"shop_id": 2, "sku": "007", "quantity": 3},
        ],
    ).to_dict()
    assert online["footfall"] == [104, 204]  # int key, the last of 5 days
    assert online["region"] == ["north", "south"]
    assert online["open_hours"] == [[8, 20], [9, 18]]
    assert online["price"] == [6.5, 14.0]  # string key ("007" stays text), push source's batch
    assert online["on_sale"] == [True, False]
    assert online["tags"] == [["fresh"], ["frozen", "bulk"]]
    assert online["stock"] == [7, 9]  # composite key, the last of 3 weeks
    assert online["basket_value"] == [13.0, 42.0]


def test_the_label_view_is_online_but_in_no_service(store: FeatureStore) -> None:
    online = store.get_online_features(
        features=["order_returned:was_returned"],
        entity_rows=[{"shop_id": 1, "sku": "a-1"}, {"shop_id": 2, "sku": "007"}],
    ).to_dict()
    assert online["was_returned"] == [0, 1]


@pytest.mark.parametrize("project", ["redis"], indirect=True)  # the Redis online store's case
def test_an_unreachable_redis_online_store_is_one_error_naming_the_yaml(
    project: Project, steps: list[str], tmp_path: Path
) -> None:
    assert "type: redis" in (project.feature_repo / "feature_store.yaml").read_text()
    shutil.copytree(project.path.parent, tmp_path, dirs_exist_ok=True)
    config = tmp_path / "repo" / "feature_store.yaml"
    closed = f"127.0.0.1:{free_port()},db=0,socket_connect_timeout=1"
    config.write_text(
        re.sub(r"connection_string: .*", f"connection_string: {closed}", config.read_text())
    )
    with pytest.raises(BackendUnavailable, match=f"{config}: cannot reach its Redis online store"):
        materialize_project(load_project(tmp_path / "keel.yaml"))

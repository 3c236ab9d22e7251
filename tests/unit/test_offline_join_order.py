"""The offline store's query joins narrow views first and still returns the views' columns in
their given order, with the same values as joining them as given."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from keel.feast_plumbing import offline_store
from keel.feast_plumbing.offline_store import ENTITY_TABLE, ViewJoin, join_order, point_in_time_sql

DAY_US = 86_400_000_000


def _view(tmp_path: Path, name: str, width: int, rng: np.random.Generator) -> ViewJoin:
    rows = 400
    frame = pd.DataFrame(
        {
            "id": rng.integers(1, 30, rows),
            "ts": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 40 * 86_400, rows), unit="s"),
            **{f"{name}_{i}": rng.normal(size=rows) for i in range(width)},
        }
    )
    path = tmp_path / f"{name}.parquet"
    frame.to_parquet(path, index=False)
    return ViewJoin(
        path=str(path),
        keys=[("id", "id")],
        timestamp="ts",
        created_timestamp=None,
        features=[(f"{name}_{i}", f"{name}_{i}") for i in range(width)],
        ttl_us=3 * DAY_US if width % 2 else None,  # the even-width view never expires
    )


@pytest.fixture
def joins(tmp_path: Path) -> list[ViewJoin]:
    rng = np.random.default_rng(7)
    return [
        _view(tmp_path, name, width, rng)
        for name, width in (("wide", 4), ("narrow", 1), ("mid", 3))
    ]


def _run(sql: str, entities: pd.DataFrame) -> pd.DataFrame:
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register(ENTITY_TABLE, entities)
        return con.sql(sql).df()


def test_fewest_features_first_ties_as_given(joins: list[ViewJoin]) -> None:
    assert join_order(joins) == [1, 2, 0]
    tied = [joins[2], joins[1], joins[2]]
    assert join_order(tied) == [1, 0, 2]


def test_query_joins_in_that_order_and_keeps_the_given_columns(
    joins: list[ViewJoin], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(8)
    entities = pd.DataFrame(
        {
            "id": rng.integers(1, 32, 500),  # 30 and 31: no feature rows
            "event_timestamp": pd.Timestamp("2025-12-30", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 45 * 86_400, 500), unit="s"),
        }
    ).astype({"event_timestamp": "datetime64[us, UTC]"})
    order = ["event_timestamp", "id"]
    sql = point_in_time_sql(joins, "event_timestamp", order)
    joined = [Path(path).stem for path in re.findall(r"read_parquet\('([^']+)'\)", sql)]
    assert joined == ["narrow", "mid", "wide"]

    ours = _run(sql, entities)
    expected_columns = ["id", "event_timestamp"] + [out for j in joins for _, out in j.features]
    assert list(ours.columns) == expected_columns

    monkeypatch.setattr(offline_store, "join_order", lambda js: list(range(len(js))))
    given_sql = point_in_time_sql(joins, "event_timestamp", order)
    assert given_sql.index("wide.parquet") < given_sql.index("narrow.parquet")
    as_given = _run(given_sql, entities)
    pd.testing.assert_frame_equal(ours, as_given, check_exact=True)
    assert ours["narrow_0"].notna().any() and ours["mid_0"].isna().any()

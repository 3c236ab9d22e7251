"""The SQLite log's entity index is filled between commits, not in them, and an erasure finds
every record of the entity whatever the indexer has reached: records past the mark, records
whose rowid an erased record freed, rowids a VACUUM renumbered."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

import pytest

import serving.log_sqlite as log_sqlite
from serving.group_commit import GroupCommitter
from serving.log_entity_index import EntityIndex
from serving.log_sqlite import SqlitePredictionLog
from serving.prediction_log import PredictionRecord
from tests.unit.test_serving_log import record as log_record

INDEX = EntityIndex("predictions")


def record(customer: int, model: str = "churn") -> PredictionRecord:
    return log_record(customer, model_name=model)


def read(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql, params).fetchall()


def indexed(path: Path) -> set[tuple[object, ...]]:
    return set(read(path, "SELECT model_name, entity_key, prediction_id FROM predictions_entities"))


def wait_until(done: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the writer did not index in time"
        time.sleep(0.01)


@pytest.fixture
def no_indexing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's idle step does nothing: what a commit alone writes, and what an erasure
    finds with nothing indexed."""
    monkeypatch.setattr(log_sqlite, "index_pending", lambda db, index: False)


def index_all(path: Path) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        while True:
            db.execute("BEGIN IMMEDIATE")
            more = INDEX.index_step(db.cursor())
            db.execute("COMMIT")
            if not more:
                return


def test_the_writer_indexes_every_record_between_commits(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    with closing(SqlitePredictionLog(path)) as log:
        records = [record(i % 7) for i in range(150)]  # more than one step of 64
        log.append(records)
        expected = {
            (r.model_name, f'{{"customer_id":{r.entity["customer_id"]}}}', r.prediction_id)
            for r in records
        }
        wait_until(lambda: indexed(path) == expected)
        ((through,),) = read(path, "SELECT through FROM predictions_entities_mark")
        assert through == 150


@pytest.mark.usefixtures("no_indexing")
def test_a_commit_writes_no_index_entry_and_an_erasure_still_finds_the_tail(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.sqlite"
    with closing(SqlitePredictionLog(path)) as log:
        gone, kept = [record(1), record(1, "other")], [record(2)]
        log.append([*gone, *kept])
        assert indexed(path) == set()
        result = log.forget_entity({"customer_id": 1}, actor="dpo")
        assert result.predictions == 2
        assert [log.get(r.prediction_id) for r in gone] == [None, None]
        assert log.get(kept[0].prediction_id) == kept[0]


@pytest.mark.usefixtures("no_indexing")
def test_an_erasure_finds_indexed_records_and_the_tail_and_drops_their_entries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.sqlite"
    with closing(SqlitePredictionLog(path)) as log:
        early = [record(1), record(2)]
        log.append(early)
        index_all(path)
        late = [record(1)]
        log.append(late)  # past the mark
        assert log.forget_entity({"customer_id": 1}, actor="dpo").predictions == 2
        assert log.get(early[0].prediction_id) is None and log.get(late[0].prediction_id) is None
        assert {row[1] for row in indexed(path)} == {'{"customer_id":2}'}


@pytest.mark.usefixtures("no_indexing")
def test_a_record_taking_an_erased_records_rowid_lands_past_the_mark(tmp_path: Path) -> None:
    """The last record indexed is erased; SQLite gives the next record its rowid. The mark
    moves back to the record before, so the new record is in the tail, and the mark stays
    valid (the indexer does not start over)."""
    path = tmp_path / "log.sqlite"
    with closing(SqlitePredictionLog(path)) as log:
        log.append([record(1), record(2)])
        index_all(path)
        assert log.forget_entity({"customer_id": 2}, actor="dpo").predictions == 1
        again = record(3)
        log.append([again])
        ((rowid,),) = read(
            path, "SELECT rowid FROM predictions WHERE entity_key = ?", ('{"customer_id":3}',)
        )
        assert rowid == 2  # the freed rowid
        with closing(sqlite3.connect(path)) as db:
            assert INDEX.mark(db.cursor()) == 1
        assert log.forget_entity({"customer_id": 3}, actor="dpo").predictions == 1
        assert log.get(again.prediction_id) is None


@pytest.mark.usefixtures("no_indexing")
def test_when_rowids_move_the_mark_no_longer_counts(tmp_path: Path) -> None:
    """SQLite may renumber a table's rowids (a VACUUM, a copy of the table): the mark's record
    is then another, so the whole log counts as the tail until the indexer marks again."""
    path = tmp_path / "log.sqlite"
    with closing(SqlitePredictionLog(path)) as log:
        records = [record(i) for i in range(1, 6)]
        log.append(records)
        index_all(path)
        log.forget_entity({"customer_id": 1}, actor="dpo")  # a gap at rowid 1
        with closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("UPDATE predictions SET rowid = rowid + 100")
            db.execute("UPDATE predictions SET rowid = rowid - 101")  # 2..5 become 1..4
            assert INDEX.mark(db.cursor()) == 0
            db.execute("DELETE FROM predictions_entities")  # even with the index lost
        assert log.forget_entity({"customer_id": 5}, actor="dpo").predictions == 1
        assert log.get(records[4].prediction_id) is None


def test_an_older_log_loses_its_in_table_index_and_is_indexed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    log = SqlitePredictionLog(path)
    log.append([record(1), record(2)])
    log.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TABLE predictions_entities")
    db.execute("DROP TABLE predictions_entities_mark")
    db.execute("CREATE INDEX predictions_model_entity ON predictions (model_name, entity_key)")
    db.close()
    with closing(SqlitePredictionLog(path)):
        wait_until(lambda: len(indexed(path)) == 2)
        names = {
            row[0] for row in read(path, "SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        assert "predictions_model_entity" not in names


def test_an_item_is_committed_between_idle_steps() -> None:
    """Idle work that always has more: a submitted item still commits, after at most the step
    under way."""
    steps = threading.Event()
    committed: list[list[int]] = []

    def idle() -> bool:
        steps.set()
        time.sleep(0.001)
        return True

    def commit(items: Sequence[int]) -> list[None]:
        committed.append(list(items))
        return [None] * len(items)

    committer: GroupCommitter[int, None] = GroupCommitter(commit, idle=idle)
    try:
        committer.wake_idle()
        assert steps.wait(5)
        committer.submit(7).result(timeout=5)
        assert committed == [[7]]
    finally:
        committer.close()

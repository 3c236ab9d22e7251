"""The prediction log: group commit, feedback semantics, the Parquet contract, the stats."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import threading
import time
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import serving.log_sqlite as log_sqlite
from keel.core.errors import WorkspaceNotReady
from serving.group_commit import GroupCommitter
from serving.ids import new_prediction_id
from serving.log_checkpoint import CHECKPOINT_NICE, WalCheckpointer
from serving.log_export import export_parquet, log_stats
from serving.log_sqlite import SqlitePredictionLog
from serving.prediction_log import Feedback, PredictionRecord

NOW = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC)


def record(customer_id: int = 7, **changes: object) -> PredictionRecord:
    base = PredictionRecord(
        prediction_id=new_prediction_id(),
        created_at=NOW,
        model_name="churn",
        model_version="2",
        model_alias="champion",
        run_id="run",
        code_commit="abc",
        request_id=None,
        served_by="champion",
        entity={"customer_id": customer_id},
        task="binary",
        score=0.25,
        label=0,
        features={"plan": "basic", "logins_7d": 3, "tenure_days": 12.5, "region": None},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def log(tmp_path: Path) -> SqlitePredictionLog:
    opened = SqlitePredictionLog(tmp_path / "predictions.db")
    yield opened  # type: ignore[misc]
    opened.close()


def test_concurrent_commits_share_transactions_and_all_become_durable(tmp_path: Path) -> None:
    groups: list[int] = []
    gate = threading.Event()

    def commit(items: list[int]) -> list[int]:
        gate.wait(5)
        groups.append(len(items))
        return [item * 2 for item in items]

    committer: GroupCommitter[int, int] = GroupCommitter(commit)  # type: ignore[arg-type]
    futures = [committer.submit(i) for i in range(50)]
    gate.set()
    assert [f.result(5) for f in futures] == [i * 2 for i in range(50)]
    committer.close()
    assert sum(groups) == 50
    assert len(groups) < 50, "every item got its own transaction: no group commit"


def test_a_failed_commit_fails_every_caller_of_its_group() -> None:
    def commit(items: list[int]) -> list[int]:
        raise OSError("disk full")

    committer: GroupCommitter[int, int] = GroupCommitter(commit)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="disk full"):
        committer.commit_now(1)
    committer.close()


def test_records_committed_from_many_coroutines_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    log = SqlitePredictionLog(path)
    records = [record(customer_id=i) for i in range(1, 301)]

    async def main() -> None:
        await asyncio.gather(*(log.commit([r]) for r in records))

    asyncio.run(main())
    log.close()
    reopened = SqlitePredictionLog(path)
    assert reopened.count() == 300
    assert reopened.get(records[123].prediction_id) == records[123]
    reopened.close()


def test_feedback_is_idempotent_refuses_conflicts_and_unknown_ids(
    log: SqlitePredictionLog,
) -> None:
    answered = record()
    log.append([answered])
    first = Feedback(answered.prediction_id, 1, NOW)
    assert log.record_feedback_now(first).status == "recorded"
    assert log.record_feedback_now(first).status == "unchanged"
    conflict = log.record_feedback_now(Feedback(answered.prediction_id, 0, NOW))
    assert conflict.status == "conflict"
    assert conflict.recorded == first
    assert log.record_feedback_now(Feedback("01NOPE", 1, NOW)).status == "unknown"
    assert log.feedback(answered.prediction_id) == first


def test_export_follows_the_monitoring_contract(log: SqlitePredictionLog, tmp_path: Path) -> None:
    with_feedback = record(customer_id=1, violations=["logins_7d", "plan"])
    without = record(customer_id=2, request_id="r-2", violations=[])
    shadow = record(customer_id=1, served_by="shadow", model_alias="challenger")
    log.append([with_feedback, without, shadow])
    log.record_feedback_now(Feedback(with_feedback.prediction_id, 1, NOW))
    out = tmp_path / "export" / "predictions.parquet"
    assert export_parquet(log, out) == 3
    table = pq.read_table(out)
    ts = pa.timestamp("us", tz="UTC")
    assert table.schema == pa.schema(
        [
            ("prediction_id", pa.string()),
            ("created_at", ts),
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("model_alias", pa.string()),
            ("run_id", pa.string()),
            ("code_commit", pa.string()),
            ("request_id", pa.string()),
            ("served_by", pa.string()),
            ("entity_key", pa.string()),
            ("customer_id", pa.int64()),
            ("task", pa.string()),
            ("score", pa.float64()),
            ("label", pa.int64()),
            ("violations", pa.string()),
            ("plan", pa.string()),
            ("logins_7d", pa.int64()),
            ("tenure_days", pa.float64()),
            ("region", pa.float64()),
            ("outcome", pa.float64()),
            ("observed_at", ts),
        ]
    )
    joined = duckdb.sql(
        f"SELECT customer_id, served_by, outcome, observed_at, created_at, plan "
        f"FROM '{out}' WHERE outcome IS NOT NULL"
    ).fetchall()
    assert len(joined) == 1
    customer, served_by, outcome, observed_at, created_at, plan = joined[0]
    assert (customer, served_by, outcome, plan) == (1, "champion", 1, "basic")
    assert observed_at == NOW and created_at == NOW
    by_customer = dict(
        duckdb.sql(
            f"SELECT request_id, violations FROM '{out}' WHERE served_by != 'shadow'"
        ).fetchall()
    )
    assert by_customer == {None: "logins_7d,plan", "r-2": ""}
    assert pq.read_table(out, columns=["violations"]).column(0).null_count == 1  # the shadow


def test_stats_count_predictions_per_version_and_feedback_coverage(
    log: SqlitePredictionLog,
) -> None:
    v2 = [record(customer_id=i) for i in range(1, 5)]
    v3 = [record(customer_id=9, model_version="3", served_by="challenger")]
    log.append(v2 + v3)
    log.record_feedback_now(Feedback(v2[0].prediction_id, 0, NOW))
    stats = {(s.model_version, s.served_by): s for s in log_stats(log)}
    assert stats["2", "champion"].predictions == 4
    assert stats["2", "champion"].feedback_coverage == 0.25
    assert stats["3", "challenger"].predictions == 1
    assert stats["3", "challenger"].with_feedback == 0


def test_a_log_file_of_an_older_layout_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE predictions (prediction_id TEXT PRIMARY KEY)")
    with pytest.raises(WorkspaceNotReady, match="older layout"):
        SqlitePredictionLog(path)


def test_violations_round_trip(log: SqlitePredictionLog) -> None:
    flagged, clean, unchecked = (
        record(customer_id=2, violations=["plan"]),
        record(customer_id=3, violations=[]),
        record(customer_id=4),
    )
    log.append([flagged, clean, unchecked])
    assert log.get(flagged.prediction_id) == flagged
    assert log.get(clean.prediction_id) == clean
    assert log.get(unchecked.prediction_id) == unchecked and unchecked.violations is None


def test_commits_leave_checkpoints_to_their_own_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit only appends to the WAL (and fsyncs it); the checkpoint thread copies the pages
    into the database file, and past its limit makes the writer start the WAL over. The writer's
    entity indexing is off: its steps between commits would add WAL frames at any moment."""
    monkeypatch.setattr(log_sqlite, "index_pending", lambda db, index: False)
    path = tmp_path / "predictions.db"
    with closing(SqlitePredictionLog(path)) as log:
        log._checkpointer.close()  # this test runs the checkpoints itself; the thread only at close
        checkpointer = WalCheckpointer(
            path,
            lambda: log_sqlite._connect(path),  # as the log builds its own
            pause=3600,
            wal_limit=64 * 1024,
        )
        log._checkpointer = checkpointer
        for _ in range(60):
            log.append([record(customer_id=i) for i in range(250)])
        _, frames, _ = checkpointer.checkpoint("PASSIVE")
        assert frames > 1000  # SQLite's own checkpoints (every 1,000 pages) are off
        checkpointer._checkpoint_logged()  # passive, then RESTART: the WAL is over its limit
        log.append([record()])
        _, frames_after, _ = checkpointer.checkpoint("PASSIVE")
        assert frames_after < 8 < frames  # the next commit started the WAL over
        assert log.count() == 15_001
    with closing(SqlitePredictionLog(path)) as reopened:
        assert reopened.count() == 15_001


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_checkpoints_run_at_the_lowest_cpu_priority(tmp_path: Path) -> None:
    """The checkpoint thread yields the CPU to the event loop and the writer: its own nice value
    is CHECKPOINT_NICE, the process's and the writer thread's stay as they were."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    log = SqlitePredictionLog(tmp_path / "predictions.db")
    try:
        thread = log._checkpointer._thread
        assert thread.native_id is not None
        deadline = time.monotonic() + 5
        while os.getpriority(os.PRIO_PROCESS, thread.native_id) != CHECKPOINT_NICE:
            assert time.monotonic() < deadline, "the checkpoint thread kept its priority"
            time.sleep(0.01)
        writer = log._committer._thread.native_id
        assert writer is not None
        assert os.getpriority(os.PRIO_PROCESS, writer) == before
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
        log.append([record()])
        assert log.count() == 1
    finally:
        log.close()

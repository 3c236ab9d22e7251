"""The production prediction log on a real PostgreSQL: same contract as the local one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from serving.ids import new_prediction_id
from serving.log_export import export_parquet, log_stats
from serving.log_postgres import PostgresPredictionLog
from serving.prediction_log import Feedback, PredictionRecord

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC)


def _record(customer_id: int) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=new_prediction_id(),
        created_at=NOW,
        model_name="churn",
        model_version="4",
        model_alias="champion",
        run_id="run",
        code_commit="abc",
        request_id="req",
        served_by="champion",
        entity={"customer_id": customer_id},
        task="binary",
        score=0.5,
        label=1,
        features={"plan": "basic", "logins_7d": 2},
    )


@pytest.fixture
def prefix(postgres_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:10]}_"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {name}prediction_feedback, {name}predictions")


def test_postgres_log_commits_concurrently_joins_feedback_and_exports(
    postgres_url: str, prefix: str, tmp_path: Path
) -> None:
    log = PostgresPredictionLog(postgres_url, table_prefix=prefix)
    records = [_record(i) for i in range(1, 101)]

    async def main() -> None:
        await asyncio.gather(*(log.commit([r]) for r in records))

    try:
        asyncio.run(main())
        assert log.count() == 100
        assert log.get(records[7].prediction_id) == records[7]
        feedback = Feedback(records[0].prediction_id, 1, NOW)
        assert log.record_feedback_now(feedback).status == "recorded"
        assert log.record_feedback_now(feedback).status == "unchanged"
        assert log.record_feedback_now(replace(feedback, prediction_id="nope")).status == "unknown"
        (stats,) = log_stats(log)
        assert (stats.predictions, stats.with_feedback) == (100, 1)
        assert export_parquet(log, tmp_path / "p.parquet") == 100
        table = pq.read_table(tmp_path / "p.parquet")
        assert table.column_names[-4:] == ["plan", "logins_7d", "outcome", "observed_at"]
    finally:
        log.close()


def test_workers_opening_a_new_log_together_all_start(postgres_url: str, prefix: str) -> None:
    """The API's workers create the tables at once: each waits its turn (without the advisory
    lock, the losers of `CREATE TABLE IF NOT EXISTS` fail with a unique violation)."""
    import threading

    workers = 8
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []
    logs: list[PostgresPredictionLog] = []

    def start() -> None:
        barrier.wait()
        try:
            logs.append(PostgresPredictionLog(postgres_url, table_prefix=prefix))
        except BaseException as error:  # recorded: the assertion names it
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for log in logs:
        log.close()
    assert not errors, errors
    assert len(logs) == workers

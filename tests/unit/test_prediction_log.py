from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import serving.ids
from serving.ids import new_prediction_id, new_prediction_ids
from serving.log_sqlite import SqlitePredictionLog
from serving.prediction_log import PredictionRecord


def _record(prediction_id: str) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=prediction_id,
        created_at=datetime(2026, 11, 30, 0, 0, 0, 123456, tzinfo=UTC),
        model_name="churn",
        model_version="3",
        model_alias="champion",
        run_id="abc",
        code_commit="deadbeef",
        request_id="req-1",
        served_by="champion",
        entity={"customer_id": 42},
        task="binary",
        score=0.125,
        label=0,
        features={"plan": "basic", "logins_7d": 3, "tenure_days": None},
    )


def test_prediction_ids_are_unique_and_sort_by_time() -> None:
    first = [new_prediction_id() for _ in range(1000)]
    time.sleep(0.002)
    later = new_prediction_id()
    assert len(set(first)) == 1000
    assert all(len(i) == 26 for i in first)
    assert max(first) < later


def test_a_batch_of_ids_follows_the_ulid_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each id is 48 bits of milliseconds then its own 80 random bits, in Crockford base32
    (most significant first), as ULIDs are; the batch encodes them in one call."""
    noise = bytes(range(7, 7 + 30))
    nanos = 1_764_547_200_123_456_789
    monkeypatch.setattr(serving.ids.os, "urandom", lambda size: noise[:size])
    monkeypatch.setattr(serving.ids.time, "time_ns", lambda: nanos)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    expected = []
    for i in range(3):
        value = (nanos // 1_000_000) << 80 | int.from_bytes(noise[10 * i : 10 * i + 10], "big")
        expected.append("".join(alphabet[(value >> (5 * k)) & 31] for k in reversed(range(26))))
    assert new_prediction_ids(3) == expected
    assert new_prediction_id() == expected[0]


def test_a_logged_prediction_survives_reopening_the_log(tmp_path: Path) -> None:
    path = tmp_path / "log" / "predictions.db"
    log = SqlitePredictionLog(path)
    log.append([_record("01A")])
    log.close()
    reopened = SqlitePredictionLog(path)
    assert reopened.count() == 1
    assert reopened.get("01A") == _record("01A")
    assert reopened.get("missing") is None
    reopened.close()


def test_the_same_prediction_id_cannot_be_logged_twice(tmp_path: Path) -> None:
    log = SqlitePredictionLog(tmp_path / "p.db")
    log.append([_record("01B")])
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        log.append([_record("01B")])
    assert log.count() == 1
    log.close()

"""The log's columns are declared once: DDL, export schema and erasure keys derive from them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from serving.log_columns import PREDICTION_COLUMNS, entity_key, table_ddl
from serving.log_erasure import candidate_keys, erasure_keys
from serving.log_export import FIXED_SCHEMA
from serving.log_sqlite import SqlitePredictionLog


def test_entity_key_is_canonical_json() -> None:
    assert entity_key({"zone_id": "z-1", "courier_id": 7}) == '{"courier_id":7,"zone_id":"z-1"}'
    assert entity_key({"customer_id": 17}) == '{"customer_id":17}'


def test_a_typed_value_is_tried_as_int_float_and_string_and_keys_combine() -> None:
    assert candidate_keys({"driver_id": "1001"}) == [
        '{"driver_id":1001}',
        '{"driver_id":1001.0}',
        '{"driver_id":"1001"}',
    ]
    assert candidate_keys({"zone": "z-1", "courier": "2.5"}) == [
        '{"courier":2.5,"zone":"z-1"}',
        '{"courier":"2.5","zone":"z-1"}',
    ]
    assert candidate_keys({"k": "nan"}) == ['{"k":"nan"}']  # never a non-JSON NaN
    with pytest.raises(ValueError, match="at least one join key"):
        erasure_keys({})
    with pytest.raises(ValueError, match="candidate entity keys"):
        erasure_keys("customer_id=1")


def test_the_sqlite_table_and_the_export_follow_the_declaration(tmp_path: Path) -> None:
    log = SqlitePredictionLog(tmp_path / "p.db")
    log.close()
    with sqlite3.connect(tmp_path / "p.db") as db:
        info = [
            (row[1], row[2], bool(row[3])) for row in db.execute("PRAGMA table_info(predictions)")
        ]
        indexes = [row[1] for row in db.execute("PRAGMA index_list(predictions)")]
        # The entity index is a table of its own (log_entity_index), keyed by these columns.
        entity_keys = [
            row[1] for row in db.execute("PRAGMA table_info(predictions_entities)") if row[5]
        ]
    db.close()
    assert info == [(c.name, c.sqlite, not c.nullable) for c in PREDICTION_COLUMNS]
    assert indexes == ["sqlite_autoindex_predictions_1"]  # the prediction id's: nothing else
    assert entity_keys == ["model_name", "entity_key", "prediction_id"]
    assert FIXED_SCHEMA.names == [c.name for c in PREDICTION_COLUMNS if c.name != "features"]
    postgres = table_ddl("p", "f", "postgres")[0]
    assert "score DOUBLE PRECISION NOT NULL" in postgres and "label BIGINT,\n" in postgres

"""GDPR: `keel predictions forget` erases one customer's records (SQLite and PostgreSQL logs)
with an audit row free of their data; `keel predictions trace` explains one prediction."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from conftest import require_service
from typer.testing import CliRunner

from keel.cli.common import console
from keel.cli.demo_journey import DemoResult
from keel.cli.main import app
from keel.core.settings import Settings, get_settings
from keel.core.workspace import Workspace
from serving.ids import new_prediction_id
from serving.log_erasure import AUDIT_COLUMNS
from serving.log_export import export_parquet
from serving.prediction_log import Feedback, PredictionRecord, open_prediction_log

pytestmark = pytest.mark.integration
runner = CliRunner()
FORGOTTEN, KEPT = 424_242, 515_151
NOW = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def keel(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def use_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """The CLI reads these settings from the environment."""
    monkeypatch.setenv("KEEL_HOME", str(settings.home))
    monkeypatch.setenv("KEEL_PROFILE", settings.profile)
    monkeypatch.setenv("KEEL_POSTGRES_URL", settings.postgres_url)
    monkeypatch.setenv("KEEL_ACTOR", "dpo-tester")
    monkeypatch.setattr(console, "width", 400)
    get_settings.cache_clear()


def record(customer_id: int) -> PredictionRecord:
    return delivery_record("churn", {"customer_id": customer_id}, task="binary")


def delivery_record(
    model: str, entity: dict[str, object], *, task: str = "regression"
) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=new_prediction_id(),
        created_at=NOW,
        model_name=model,
        model_version="1",
        model_alias="champion",
        run_id="run",
        code_commit="abc",
        request_id=None,
        served_by="champion",
        entity=entity,
        task=task,  # type: ignore[arg-type]
        score=0.25 if task == "binary" else 31.5,
        label=0 if task == "binary" else None,
        features={"plan": "premium-secret-plan", "logins_7d": 31337},
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """A local workspace, or the production profile on a fresh PostgreSQL database."""
    home = tmp_path / "keel-home"
    if request.param == "sqlite":
        settings = Settings(home=home)
        use_settings(monkeypatch, settings)
        yield settings
        get_settings.cache_clear()
        return
    admin_url = os.environ.get("KEEL_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    require_service(admin_url.replace("postgresql", "tcp", 1), "PostgreSQL")
    name = f"keel_gdpr_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    settings = Settings(
        home=home, profile="production", postgres_url=f"{admin_url.rpartition('/')[0]}/{name}"
    )
    use_settings(monkeypatch, settings)
    try:
        yield settings
    finally:
        get_settings.cache_clear()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(settings: Settings) -> tuple[list[PredictionRecord], list[PredictionRecord]]:
    """Three predictions of FORGOTTEN (two with feedback), two of KEPT (one with feedback)."""
    forgotten = [record(FORGOTTEN) for _ in range(3)]
    kept = [record(KEPT) for _ in range(2)]
    log = open_prediction_log(settings)
    try:
        log.append(forgotten + kept)
        for item in (*forgotten[:2], kept[0]):
            assert log.record_feedback_now(Feedback(item.prediction_id, 1, NOW)).status == (
                "recorded"
            )
    finally:
        log.close()
    return forgotten, kept


def test_forget_erases_one_customer_and_audits_counts_without_their_data(
    store: Settings, tmp_path: Path
) -> None:
    forgotten, kept = fill(store)

    code, out = keel("predictions", "forget", "--customer-id", str(FORGOTTEN))
    assert code == 0, out
    assert "erased 3 predictions and 2 feedback records" in out

    log = open_prediction_log(store)
    try:
        assert [log.get(r.prediction_id) for r in forgotten] == [None] * 3
        assert [log.feedback(r.prediction_id) for r in forgotten] == [None] * 3
        assert [log.get(r.prediction_id) for r in kept] == kept  # other customers untouched
        assert log.feedback(kept[0].prediction_id) == Feedback(kept[0].prediction_id, 1, NOW)
        (event,) = log.audit_events()
        assert (event.action, event.actor, event.predictions, event.feedback) == (
            "erase_entity",
            "dpo-tester",
            3,
            2,
        )
        assert event.audit_id in out
        raw = list(log.query(f"SELECT * FROM {log.audit_table}"))
        assert export_parquet(log, tmp_path / "after.parquet") == 2
    finally:
        log.close()
    assert len(raw) == 1 and len(raw[0]) == len(AUDIT_COLUMNS)  # no customer_id column
    text = json.dumps(raw, default=str)
    for customer_data in (str(FORGOTTEN), "premium-secret-plan", "31337"):
        assert customer_data not in text
    exported = pq.read_table(tmp_path / "after.parquet").column("customer_id").to_pylist()
    assert exported == [KEPT, KEPT]

    code, out = keel("predictions", "forget", "--customer-id", "999999")
    assert code == 0, out
    assert "erased 0 predictions and 0 feedback records" in out


def test_forget_by_entity_matches_string_numeric_and_composite_keys_and_one_model(
    store: Settings,
) -> None:
    courier = delivery_record("delivery_minutes", {"courier_id": "1001"})
    numeric = delivery_record("delivery_minutes", {"courier_id": 1001})
    pair = delivery_record("late_delivery", {"courier_id": "c-7", "zone_id": "z 1"}, task="binary")
    same_courier = delivery_record("late_delivery", {"courier_id": "c-7", "zone_id": "z-2"})
    other_model = delivery_record("delivery_minutes", {"courier_id": "c-7", "zone_id": "z 1"})
    churn = record(1001)
    log = open_prediction_log(store)
    try:
        log.append([courier, numeric, pair, same_courier, other_model, churn])
        log.record_feedback_now(Feedback(pair.prediction_id, 1, NOW))
    finally:
        log.close()

    code, out = keel("predictions", "forget", "--entity", "courier_id=1001")
    assert code == 0, out
    assert "erased 2 predictions and 0 feedback records" in out  # "1001" and 1001, not churn's
    code, out = keel(
        "predictions", "forget", "--entity", "zone_id=z 1", "--entity", "courier_id=c-7",
        "--model", "late_delivery",
    )  # fmt: skip
    assert code == 0, out
    assert "erased 1 predictions and 1 feedback records" in out
    code, out = keel("predictions", "forget", "17", "--entity", "customer_id=17")
    assert code == 2 and "name the entity once" in out
    code, out = keel("predictions", "forget", "--entity", "courier_id")
    assert code == 2 and "--entity 'courier_id': expected KEY=VALUE" in out

    log = open_prediction_log(store)
    try:
        for gone in (courier, numeric, pair):
            assert log.get(gone.prediction_id) is None
        assert log.feedback(pair.prediction_id) is None
        for kept in (same_courier, other_model, churn):
            assert log.get(kept.prediction_id) == kept
        events = log.audit_events()
        assert [(e.action, e.predictions, e.feedback) for e in events] == [
            ("erase_entity", 2, 0),
            ("erase_entity", 1, 1),
        ]
        raw = json.dumps(list(log.query(f"SELECT * FROM {log.audit_table}")))
    finally:
        log.close()
    for entity_data in ("1001", "c-7", "z 1", "courier"):
        assert entity_data not in raw

    code, out = keel("predictions", "forget", "1001")  # the churn form: customer_id=1001
    assert code == 0 and "erased 1 predictions" in out, out


def test_export_of_one_model_has_its_join_keys_as_typed_columns(
    store: Settings, tmp_path: Path
) -> None:
    log = open_prediction_log(store)
    try:
        log.append(
            [
                delivery_record(
                    "late_delivery", {"courier_id": "c-1", "zone_id": 4}, task="binary"
                ),
                delivery_record("delivery_minutes", {"courier_id": "c-1", "zone_id": 4}),
                delivery_record("delivery_minutes", {"courier_id": "c-2", "zone_id": 5}),
                record(7),
            ]
        )
    finally:
        log.close()
    out = tmp_path / "minutes.parquet"
    code, text = keel("predictions", "export", "--out", str(out), "--model", "delivery_minutes")
    assert code == 0 and "wrote 2 predictions" in text, text
    table = pq.read_table(out)
    names = table.column_names
    assert names[names.index("entity_key") + 1 : names.index("entity_key") + 3] == [
        "courier_id",
        "zone_id",
    ]
    assert str(table.schema.field("zone_id").type) == "int64"
    assert sorted(table.column("courier_id").to_pylist()) == ["c-1", "c-2"]
    assert table.column("task").to_pylist() == ["regression"] * 2
    assert table.column("label").to_pylist() == [None, None]
    everything = tmp_path / "all.parquet"
    code, text = keel("predictions", "export", "--out", str(everything))
    assert code == 0 and "wrote 4 predictions" in text, text
    mixed = pq.read_table(everything)
    assert "courier_id" not in mixed.column_names  # several models: the keys stay in entity_key
    assert sorted(mixed.column("entity_key").to_pylist())[0] == '{"courier_id":"c-1","zone_id":4}'


def test_an_erasure_that_cannot_be_audited_deletes_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "keel-home")
    forgotten, _ = fill(settings)
    log = open_prediction_log(settings)
    try:
        # An audit table the erasure cannot write to: the audit insert, its last step, fails.
        with sqlite3.connect(Workspace.from_settings(settings).prediction_log) as db:
            db.execute(f"CREATE TABLE {log.audit_table} (audit_id TEXT PRIMARY KEY)")
        with pytest.raises(sqlite3.OperationalError, match="has no column named"):
            log.forget_entity({"customer_id": FORGOTTEN}, actor="tester")
        assert [log.get(r.prediction_id) for r in forgotten] == forgotten
        assert log.feedback(forgotten[0].prediction_id) is not None
    finally:
        log.close()


@pytest.fixture
def traced(
    journey: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, dict[str, object]]]:
    """A copy of the journey's workspace (its log included), one of its answers with feedback."""
    home = tmp_path / "keel-home"
    shutil.copytree(journey.settings.home, home)
    settings = Settings(**{**journey.settings.model_dump(), "home": home})
    answer = next(r for r in journey.responses if r["status"] == 200)
    log = open_prediction_log(settings)
    try:
        log.record_feedback_now(Feedback(str(answer["prediction_id"]), 1, NOW))
    finally:
        log.close()
    use_settings(monkeypatch, settings)
    yield settings, answer
    get_settings.cache_clear()


def test_trace_names_model_run_dataset_features_code_and_feedback(
    traced: tuple[Settings, dict[str, object]], journey: DemoResult
) -> None:
    settings, answer = traced
    code, out = keel("predictions", "trace", str(answer["prediction_id"]), "--json")
    assert code == 0, out
    trace = json.loads(out)
    assert trace["model"]["name"] == settings.model_name
    assert trace["model"]["version"] == str(answer["model"]["version"])  # type: ignore[index]
    assert trace["model"]["served_by"] == "champion"
    assert trace["model"]["version"] == journey.training.model_version
    assert trace["training_run_id"] == journey.training.parent_run_id
    assert trace["run_id"]
    assert any(d["digest"] for d in trace["datasets"])
    assert trace["feature_service"] == settings.feature_service
    assert trace["feature_definitions_hash"].startswith("sha256:")
    assert trace["serving_code_commit"] and trace["model_code_commit"]
    assert (trace["task"], trace["score"]) == ("binary", answer["churn_probability"])
    assert trace["label"] == answer["label"]
    assert trace["entity"] == {"customer_id": answer["customer_id"]}
    assert len(trace["features"]) >= 10
    assert trace["feedback"]["outcome"] == 1
    assert trace["lineage_error"] is None

    code, out = keel("predictions", "trace", str(answer["prediction_id"]))
    assert code == 0, out
    assert "definitions hash" in out and trace["feature_definitions_hash"] in out
    assert f"customer_id={answer['customer_id']}" in out and "probability" in out

    code, out = keel("predictions", "trace", "01NOSUCHPREDICTION")
    assert code == 2
    assert "prediction '01NOSUCHPREDICTION' is not in the prediction log" in out

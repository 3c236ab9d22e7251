"""`keel score`: point-in-time batch scores equal the pipeline's, and the batch is logged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from serving_process import copy_workspace
from typer.testing import CliRunner

from keel.cli.demo_journey import UNKNOWN_CUSTOMER, DemoResult, sample_customers
from keel.cli.main import app
from keel.core.settings import get_settings
from keel.core.workspace import Workspace
from keel.feast_plumbing.feature_store import open_store
from registry.client import mlflow_client
from registry.models import load_alias
from serving.batch_scoring import keyed_target, score_entities
from serving.log_sqlite import SqlitePredictionLog

pytestmark = pytest.mark.e2e


def test_keel_score_scores_point_in_time_and_logs_the_batch(
    journey: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = copy_workspace(journey.settings, tmp_path / "home")
    customers = sample_customers(settings, 20)
    source = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": [*customers, UNKNOWN_CUSTOMER]}).to_csv(source)
    out = tmp_path / "scores.parquet"
    as_of = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(days=1)
    monkeypatch.setenv("KEEL_HOME", str(settings.home))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            ["score", "--input", str(source), "--as-of", as_of.isoformat(), "--output", str(out)],
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    assert [(name, str(kind)) for name, kind in scores.dtypes.items()] == [
        ("customer_id", "int64"),
        ("prediction_id", "object"),
        ("churn_probability", "float64"),
        ("label", "Int64"),
        ("model_name", "object"),
        ("model_version", "object"),
        ("as_of", "datetime64[us, UTC]"),
        ("error", "object"),
    ]  # the columns, their order and types, as before `keel score` served any model
    assert scores["customer_id"].tolist() == [*customers, UNKNOWN_CUSTOMER]
    assert scores["error"].iloc[-1] == "unknown customer: no features as of this time"
    assert scores["error"].notna().tolist() == [False] * 20 + [True]

    store = open_store(settings)
    entities = pd.DataFrame(
        {"customer_id": customers, "event_timestamp": as_of, "as_of_unix": int(as_of.timestamp())}
    )
    offline = store.get_historical_features(
        entity_df=entities, features=store.get_feature_service(settings.feature_service)
    ).to_df()
    offline = offline.set_index("customer_id").loc[customers]
    model = load_alias(mlflow_client(settings), settings.model_name)
    expected = model.pipeline.predict_proba(offline[model.feature_columns])[:, 1]
    assert scores["churn_probability"].iloc[:20].to_numpy() == pytest.approx(expected, rel=1e-9)

    log = SqlitePredictionLog(Workspace.from_settings(settings).prediction_log)
    try:
        logged = {
            row[0]: row[1:]
            for row in log.query(
                "SELECT prediction_id, model_version, request_id, score FROM predictions"
            )
        }
    finally:
        log.close()
    assert len(logged) == 20
    for row in scores.iloc[:20].itertuples():
        version, request_id, probability = logged[row.prediction_id]
        assert version == model.version and request_id.startswith("batch:")
        assert probability == row.churn_probability


def test_keel_score_reads_the_features_block_by_block_with_the_same_output(
    journey: DemoResult, tmp_path: Path
) -> None:
    settings = copy_workspace(journey.settings, tmp_path / "home")
    target = keyed_target(settings)
    customers = [*sample_customers(settings, 9), UNKNOWN_CUSTOMER]
    entities = pd.DataFrame({"customer_id": customers})
    as_of = pd.Timestamp.now(tz="UTC").floor("s").to_pydatetime()
    steps: list[str] = []
    progress: list[int] = []
    outputs: dict[int, pd.DataFrame] = {}
    for block_size, chunk_size in ((250_000, 2000), (4, 3)):
        out = tmp_path / f"scores_{block_size}.parquet"
        score_entities(
            settings,
            target=target,
            entities=entities,
            as_of=as_of,
            output=out,
            chunk_size=chunk_size,
            block_size=block_size,
            on_progress=lambda done, _total: progress.append(done),
            on_step=steps.append,
        )
        outputs[block_size] = pd.read_parquet(out).drop(columns="prediction_id")
    pd.testing.assert_frame_equal(outputs[4], outputs[250_000])
    assert outputs[4]["error"].notna().tolist() == [False] * 9 + [True]
    reading = "reading point-in-time features for {} customers"
    assert steps == [reading.format(10), "scoring"] + [
        step for n in (4, 4, 2) for step in (reading.format(n), "scoring")
    ]  # one offline-store call per block, each shown as a step
    assert progress == [0, 10, 0, 3, 4, 7, 8, 10]  # chunks within each block


def test_keel_score_keeps_and_takes_the_champion_in_the_servers_model_cache(
    journey: DemoResult, tmp_path: Path
) -> None:
    """`keel score` loads the champion through the workspace's serving model cache, as `keel
    serve` does: once cached (by either), MLflow's artifacts are not read (moved away here)."""
    settings = copy_workspace(journey.settings, tmp_path / "home")
    workspace = Workspace.from_settings(settings)
    shutil.rmtree(workspace.model_cache_dir, ignore_errors=True)  # nothing served yet
    entities = pd.DataFrame({"customer_id": sample_customers(settings, 5)})
    as_of = pd.Timestamp.now(tz="UTC").floor("s").to_pydatetime()
    outputs = []
    for run in ("first", "second"):
        out = tmp_path / f"scores_{run}.parquet"
        score_entities(
            settings, target=keyed_target(settings), entities=entities, as_of=as_of, output=out
        )
        outputs.append(pd.read_parquet(out).drop(columns="prediction_id"))
        if run == "first":
            cached = list(workspace.model_cache_dir.glob(f"{settings.model_name}/versions/*"))
            assert cached, "keel score left nothing in the serving model cache"
            workspace.artifacts_dir.rename(tmp_path / "artifacts-elsewhere")
    pd.testing.assert_frame_equal(outputs[1], outputs[0])
    assert outputs[1]["error"].isna().all()

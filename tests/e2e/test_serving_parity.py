"""Training/serving parity: served features and scores equal the offline point-in-time path."""

from __future__ import annotations

import time

import pytest
from offline_reference import assert_same_features, offline_features

from keel.cli.demo_journey import UNKNOWN_CUSTOMER, DemoResult, sample_customers
from keel.feast_plumbing.feature_store import open_store
from registry.client import mlflow_client
from serving.direct_features import DirectSqliteFeatures
from serving.model_cache import ModelCache
from serving.online_features import FeastOnlineFeatures
from serving.predictor import Prediction, Predictor

pytestmark = pytest.mark.e2e


def test_direct_online_reads_equal_feast_get_online_features(journey: DemoResult) -> None:
    settings = journey.settings
    store = open_store(settings)
    customers = [*sample_customers(settings, 40), UNKNOWN_CUSTOMER]
    as_of = int(time.time())
    through_feast = FeastOnlineFeatures(store, settings.feature_service)
    direct = DirectSqliteFeatures(store, settings.feature_service)
    try:
        entities = [{"customer_id": c} for c in customers]
        expected = through_feast.get_rows(entities, as_of_unix=as_of)
        assert direct.get_rows(entities, as_of_unix=as_of) == expected
        assert expected[-1] is None and all(row is not None for row in expected[:-1])
    finally:
        direct.close()


def test_served_scores_equal_the_offline_pipeline_on_point_in_time_features(
    journey: DemoResult,
) -> None:
    settings = journey.settings
    store = open_store(settings)
    models = ModelCache(mlflow_client(settings), settings.model_name)
    models.refresh()
    features = DirectSqliteFeatures(store, settings.feature_service)
    predictor = Predictor(models, features, code_commit="test")
    customers = sample_customers(settings, 25)
    as_of = int(time.time())
    offline = offline_features(store, settings.feature_service, customers, as_of)
    assert models.current.champion.expectations is not None  # type: ignore[union-attr]
    champion = models.current.champion.model  # type: ignore[union-attr]
    expected = champion.pipeline.predict_proba(offline.loc[customers, champion.feature_columns])
    scored = predictor.predict([{"customer_id": c} for c in customers], as_of_unix=as_of)
    features.close()
    for answer, probability in zip(scored.answers, expected[:, 1], strict=True):
        assert isinstance(answer, Prediction)
        record = answer.record
        assert record.violations is not None  # training logged the profile: every row checked
        assert record.score == pytest.approx(probability, rel=1e-9, abs=1e-12)
        customer = record.entity["customer_id"]
        offline_row = offline.loc[customer]
        assert_same_features(record.features, offline_row, champion.feature_columns, customer)

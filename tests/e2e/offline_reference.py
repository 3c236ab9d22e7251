"""The offline point-in-time path as the reference that served features must equal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pytest
from feast import FeatureStore


def offline_features(
    store: FeatureStore, feature_service: str, customers: list[int], as_of: int
) -> pd.DataFrame:
    """Feast's historical features of `customers` as of `as_of` (Unix seconds), by customer."""
    entities = pd.DataFrame(
        {
            "customer_id": customers,
            "event_timestamp": pd.Timestamp(as_of, unit="s", tz="UTC"),
            "as_of_unix": as_of,
        }
    )
    service = store.get_feature_service(feature_service)
    frame = store.get_historical_features(entity_df=entities, features=service).to_df()
    return frame.set_index("customer_id")


def assert_same_features(
    served: Mapping[str, Any], offline: pd.Series, names: Iterable[str], customer: int
) -> None:
    """Text equal, numbers equal to 1e-12 relative."""
    for name in names:
        want, got = offline[name], served[name]
        if isinstance(want, str):
            assert got == want, (customer, name)
        else:
            assert got == pytest.approx(float(want), rel=1e-12), (customer, name)

"""The reference profile summarises the training features faithfully and survives JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keel.core.errors import InvalidInput
from monitoring.profile import OTHER, ReferenceProfile, build_reference_profile


def training_frame(rows: int = 2_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    spend = rng.lognormal(1, 1, rows)
    spend[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "region": rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2]),
            "logins_7d": rng.poisson(10, rows).astype("int64"),
            "spend_30d": spend,
            "churned": rng.integers(0, 2, rows),
        }
    )


def test_profile_records_type_nulls_range_bins_and_categories() -> None:
    frame = training_frame()
    profile = build_reference_profile(frame, ["region", "logins_7d", "spend_30d"], None)

    assert profile.names == ["region", "logins_7d", "spend_30d"]
    region, logins, spend = profile.features.values()
    assert region.kind == "categorical"
    assert region.categories["north"] == pytest.approx(0.5, abs=0.03)
    assert sum(region.categories.values()) == pytest.approx(1.0)
    assert logins.kind == "numeric" and logins.integer
    assert (logins.minimum, logins.maximum) == (frame.logins_7d.min(), frame.logins_7d.max())
    assert spend.null_rate == pytest.approx(frame.spend_30d.isna().mean())
    assert sum(spend.bin_frequencies) == pytest.approx(1.0)
    assert len(spend.bin_edges) == 9  # deciles of a continuous feature
    assert len(spend.quantiles) == 101
    assert spend.quantiles[50] == pytest.approx(frame.spend_30d.median())
    assert profile.score is None


def test_profile_includes_the_score_distribution() -> None:
    frame = training_frame()
    scores = np.linspace(0, 1, len(frame))
    profile = build_reference_profile(frame, ["logins_7d"], scores)
    assert profile.score is not None
    assert profile.score.mean == pytest.approx(0.5)
    assert (profile.score.minimum, profile.score.maximum) == (0.0, 1.0)


def test_json_round_trip_is_exact() -> None:
    profile = build_reference_profile(
        training_frame(), ["region", "logins_7d", "spend_30d"], np.full(2_000, 0.1)
    )
    again = ReferenceProfile.from_json(profile.to_json())
    assert again == profile
    assert len(profile.to_json()) < 50_000  # a summary, not the data


def test_many_categories_keep_the_most_frequent_and_pool_the_rest() -> None:
    frame = pd.DataFrame({"city": [f"c{i % 150}" for i in range(3_000)]})
    categories = build_reference_profile(frame, ["city"], None).features["city"].categories
    assert len(categories) == 101 and OTHER in categories


def test_missing_feature_column_is_named() -> None:
    with pytest.raises(InvalidInput, match="plan"):
        build_reference_profile(training_frame(), ["plan"], None)


def test_garbage_is_not_a_profile() -> None:
    with pytest.raises(InvalidInput, match="not a Keel reference profile"):
        ReferenceProfile.from_json('{"features": 3}')

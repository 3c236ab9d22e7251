from __future__ import annotations

import pandas as pd

from feature_repo.on_demand import customer_derived, customer_derived_row
from serving.row_transforms import probe_rows, verified_twin

INPUTS = ["signup_unix", "sessions_30d", "spend_30d", "logins_7d", "logins_30d", "as_of_unix"]


def test_the_churn_twin_is_proven_equal_to_the_pandas_transform() -> None:
    assert verified_twin("customer_derived", customer_derived, INPUTS) is customer_derived_row


def test_a_twin_that_differs_from_the_registry_transform_is_not_used() -> None:
    def changed(inputs: pd.DataFrame) -> pd.DataFrame:
        out = customer_derived(inputs)
        out["login_trend"] = out["login_trend"] * 2  # the repo changed after `apply`
        return out

    assert verified_twin("customer_derived", changed, INPUTS) is None


def test_views_without_a_twin_keep_their_transform() -> None:
    assert verified_twin("some_other_view", customer_derived, INPUTS) is None


def test_probes_cover_missing_values_and_stay_bounded() -> None:
    rows = probe_rows(INPUTS)
    assert len(rows) == 2000
    assert any(row["sessions_30d"] is None for row in rows)
    assert any(row["sessions_30d"] == 0 for row in rows)
    assert probe_rows(INPUTS) == rows  # seeded

"""Entity-frame times in UTC, as Feast's `coerce_tz_aware` leaves them, without a copy of the
frame when nothing needs converting."""

from __future__ import annotations

import pandas as pd
from feast.utils import make_df_tzaware

from keel.feast_plumbing.entity_times import utc_datetime_columns


def test_a_frame_already_in_utc_comes_back_as_it_is() -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "event_timestamp": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 00:00"], utc=True),
            "other": pd.to_datetime(["2026-01-01 00:00", "2026-01-03 00:00"], utc=True).astype(
                "datetime64[us, UTC]"
            ),
        }
    )
    assert utc_datetime_columns(frame) is frame


def test_naive_and_other_zones_become_utc_like_feasts_coercion() -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "event_timestamp": pd.to_datetime(["2026-01-01 10:00:00", "2026-01-02 00:00:01"]),
            "asked_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 00:00"]).tz_localize(
                "Europe/Stockholm"
            ),
            "label": [0, 1],
        }
    )
    before = frame.copy()
    out = utc_datetime_columns(frame)
    pd.testing.assert_frame_equal(out, make_df_tzaware(frame))  # Feast's own coercion
    assert str(out["asked_at"].iloc[0]) == "2026-01-01 11:00:00+00:00"
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left alone

"""The exported SQL scores what sklearn scores: DuckDB against `predict_proba`, random data."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from training.export_sql import probability_sql
from training.models import logistic_regression

PLANS = ["basic", "standard", "premium", "it's quoted", 'dou"ble']


@st.composite
def tables(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray, float]:
    """Random features (numbers with gaps, a category with gaps and odd quoting) and labels;
    random regularisation, so the fitted coefficients range from tiny to large."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(20, 200))
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "plan": rng.choice(PLANS[: draw(st.integers(1, len(PLANS)))], n).astype(object),
            "logins_7d": rng.integers(0, 50, n).astype(float),
            "spend_30d": rng.normal(draw(st.floats(-1e3, 1e3)), draw(st.floats(0.01, 1e3)), n),
        }
    )
    frame.loc[rng.random(n) < draw(st.floats(0, 0.5)), "spend_30d"] = np.nan
    frame.loc[rng.random(n) < draw(st.floats(0, 0.3)), "plan"] = None
    labels = (rng.random(n) < draw(st.floats(0.1, 0.9))).astype(int)
    labels[:2] = [0, 1]
    return frame, labels, draw(st.floats(1e-3, 1e3))


@settings(max_examples=25, deadline=None)
@given(tables())
def test_duckdb_on_the_exported_sql_equals_sklearn(
    data: tuple[pd.DataFrame, np.ndarray, float],
) -> None:
    frame, labels, c = data
    model = logistic_regression(list(frame.columns), categorical=["plan"], c=c).fit(frame, labels)
    probe = pd.concat(  # unseen category and all-missing rows too
        [
            frame,
            pd.DataFrame(
                {"plan": ["gold", None], "logins_7d": [3.0, None], "spend_30d": [None, 1e4]}
            ),
        ],
        ignore_index=True,
    )
    with duckdb.connect() as con:
        con.register("features", probe)
        scored = con.execute(f"SELECT {probability_sql(model)} AS p FROM features").fetchnumpy()[
            "p"
        ]
    expected = model.predict_proba(probe)[:, 1]
    assert np.abs(np.asarray(scored, dtype=float) - expected).max() < 1e-9

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from keel.core.errors import InvalidInput
from training.export_sql import probability_sql
from training.models import gradient_boosting, logistic_regression

TEXT = ["plan", "region"]  # the string columns: what Feast types as `String`


@pytest.fixture
def table() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(2)
    n = 2000
    x = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "premium", "it's quoted"], n),
            "region": rng.choice(["north", "south"], n),
            "logins_7d": rng.poisson(4, n).astype("int64"),
            "spend_30d": rng.gamma(2, 10, n),
        }
    )
    x.loc[rng.random(n) < 0.1, "spend_30d"] = np.nan
    x.loc[rng.random(n) < 0.05, "plan"] = None
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(2 + 0.3 * (x.logins_7d - 4)))).astype(int))
    return x, y


def test_exported_sql_matches_sklearn_in_duckdb(table) -> None:
    x, y = table
    model = logistic_regression(list(x.columns), categorical=TEXT).fit(x, y)
    probe = pd.concat(
        [
            x,
            pd.DataFrame(
                {"plan": ["gold"], "region": ["east"], "logins_7d": [3], "spend_30d": [None]}
            ),
        ],
        ignore_index=True,
    )
    sql = probability_sql(model)
    con = duckdb.connect()
    con.register("features", probe)
    scored = con.execute(f"SELECT {sql} AS p FROM features").fetchnumpy()["p"]
    expected = model.predict_proba(probe)[:, 1]
    assert np.abs(scored - expected).max() < 1e-9


def test_non_linear_models_are_not_exportable(table) -> None:
    x, y = table
    model = gradient_boosting(list(x.columns), categorical=TEXT).fit(x, y)
    with pytest.raises(InvalidInput, match="not exportable"):
        probability_sql(model)

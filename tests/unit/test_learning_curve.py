from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keel.core.errors import InvalidInput
from keel.core.settings import Settings
from training.learning_curve import PowerLaw, fit_power_law, format_examples, learning_curve
from training.learning_curve_job import run_learning_curve, table_data
from training.models import logistic_regression


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    logit = -3 + 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 0] * x[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(churned=y, customer_id=range(n))


def test_power_law_fit_recovers_a_known_curve_and_inverts_it() -> None:
    truth = PowerLaw(asymptote=0.6, scale=2.0, exponent=0.5)
    sizes = [100, 300, 1000, 3000, 10000]
    fit = fit_power_law(sizes, [float(truth(n)) for n in sizes])
    assert fit.asymptote == pytest.approx(0.6, abs=1e-3)
    assert fit.exponent == pytest.approx(0.5, abs=1e-2)
    needed = fit.examples_for(0.58)
    assert needed == pytest.approx((2.0 / 0.02) ** 2, rel=0.05)
    assert fit.examples_for(0.65) is None
    assert "not reachable" in format_examples(None)
    assert "100x" in format_examples(1e9, largest=10_000)


def test_power_law_needs_three_sizes() -> None:
    with pytest.raises(ValueError, match="at least 3 distinct sizes"):
        fit_power_law([100, 100, 200], [0.1, 0.1, 0.2])


def test_more_data_helps_on_a_learnable_problem() -> None:
    table = _table(12_000)
    train, test = table.iloc[:9000], table.iloc[9000:]
    curve = learning_curve(
        train,
        test,
        features=["a", "b", "c", "d"],
        label="churned",
        sizes=[100, 1000, 8000, 50_000],
        repeats=3,
        model=partial(logistic_regression, categorical=[]),
    )
    summary = curve.summary()
    assert list(summary["size"]) == [100, 1000, 8000]
    assert curve.skipped_sizes == [50_000]
    assert summary["pr_auc_mean"].iloc[-1] > summary["pr_auc_mean"].iloc[0]
    assert summary["pr_auc_std"].iloc[-1] < summary["pr_auc_std"].iloc[0]
    assert len(curve.points) == 9


def test_learning_curve_runs_on_any_labelled_table_and_logs_to_mlflow(tmp_path: Path) -> None:
    path = tmp_path / "labelled.parquet"
    _table(4000).to_parquet(path)
    settings = Settings(home=tmp_path / "ws")
    result = run_learning_curve(
        settings,
        sizes=[200, 800, 1600, 3000],
        repeats=2,
        data=path,
        target="churned",
        target_pr_auc=0.3,
    )
    assert result.source == str(path)
    assert result.fit is not None
    assert set(result.curve.points["size"]) == {200, 800, 1600, 3000}
    from registry.client import mlflow_client

    client = mlflow_client(settings)
    run = client.get_run(result.run_id)
    assert run.data.tags["keel.kind"] == "learning_curve"
    paths = {a.path for a in client.list_artifacts(result.run_id, "learning_curve")}
    assert {"learning_curve/learning_curve.png", "learning_curve/learning_curve.csv"} <= paths


def test_bad_tables_are_named_with_their_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _table(100).drop(columns="churned").to_csv(path, index=False)
    with pytest.raises(InvalidInput, match=r"t\.csv.*'churned'"):
        table_data(path, target="churned")
    _table(100).assign(churned=2).to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="0/1 labels"):
        table_data(path, target="churned")

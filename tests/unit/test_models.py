from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.explain import linear_contributions, top_contributions
from training.models import OneRuleClassifier, candidates, gradient_boosting, logistic_regression

TEXT = ["plan", "region"]  # the string columns: what Feast types as `String`


@pytest.fixture
def frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(11)
    n = 3000
    x = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "region": rng.choice(["north", "south"], n),
            "logins_7d": rng.poisson(5, n).astype("int64"),
            "noise": rng.normal(size=n),
            "tickets_30d": rng.poisson(0.3, n).astype(float),
        }
    )
    x.loc[rng.random(n) < 0.05, "tickets_30d"] = np.nan
    logit = -3.0 - 0.5 * (x["logins_7d"] - 5) + 0.8 * (x["plan"] == "premium")
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))
    return x, y


def test_one_rule_finds_the_predictive_feature_and_its_direction(frame) -> None:
    x, y = frame
    rule = OneRuleClassifier().fit(x, y)
    assert rule.feature_ == "logins_7d"
    assert rule.direction_ == -1  # fewer logins, more churn
    low, high = rule.rates_
    assert high > y.mean() > low
    proba = rule.predict_proba(x)
    assert proba.shape == (len(x), 2)
    assert set(np.round(proba[:, 1], 12)) == {round(low, 12), round(high, 12)}


def test_candidates_come_simplest_first(frame) -> None:
    x, _ = frame
    assert [name for name, _ in candidates(list(x.columns), categorical=TEXT)] == [
        "baseline",
        "one_rule",
        "logistic_regression",
        "gradient_boosting",
    ]


def test_models_learn_the_signal_and_handle_missing_and_unknown_values(frame) -> None:
    x, y = frame
    unseen = x.head(3).assign(plan=["gold", None, "basic"], tickets_30d=[np.nan] * 3)
    for model in (
        logistic_regression(list(x.columns), categorical=TEXT),
        gradient_boosting(list(x.columns), categorical=TEXT),
    ):
        model.fit(x, y)
        p = model.predict_proba(x)[:, 1]
        assert p[y == 1].mean() > 2 * p[y == 0].mean()
        assert np.isfinite(model.predict_proba(unseen)).all()


def test_churn_risk_falls_as_logins_rise(frame) -> None:
    """Behaviour test: everything else equal, a more active customer is less at risk."""
    x, y = frame
    model = logistic_regression(list(x.columns), categorical=TEXT).fit(x, y)
    probe = pd.concat([x.head(1)] * 3, ignore_index=True).assign(logins_7d=[0, 5, 15])
    p = model.predict_proba(probe)[:, 1]
    assert p[0] > p[1] > p[2]


def test_contributions_add_up_to_the_models_log_odds(frame) -> None:
    x, y = frame
    model = logistic_regression(list(x.columns), categorical=TEXT).fit(x, y)
    contributions = linear_contributions(model, x.head(50))
    assert list(contributions.columns) == list(x.columns)
    log_odds = contributions.sum(axis=1) + model.steps[-1][1].intercept_[0]
    expected = model.predict_proba(x.head(50))[:, 1]
    assert np.allclose(1 / (1 + np.exp(-log_odds)), expected, atol=1e-12)
    top = top_contributions(contributions.iloc[0], top=2)
    assert len(top) == 2
    assert abs(top[0][1]) >= abs(top[1][1])


def test_every_candidate_can_be_served_from_its_recorded_input_columns(frame) -> None:
    """Serving builds its input frame from `feature_names_in_`: every candidate must keep it
    (a registered one-rule model once answered 500 because its pipeline had none)."""
    from serving.scoring import make_scorer

    x, y = frame
    rows = x.head(5).to_dict("records")
    for name, pipeline in candidates(list(x.columns), categorical=TEXT):
        fitted = pipeline.fit(x, y)
        columns = [str(c) for c in getattr(fitted, "feature_names_in_", [])]
        assert columns == list(x.columns), name
        scores = make_scorer(fitted, columns)(rows)
        assert np.allclose(scores, fitted.predict_proba(x.head(5))[:, 1]), name

"""The hidden churn risk score and the daily hazard derived from it.

The score is deliberately non-linear in observable quantities (threshold on recent logins,
saturating ticket effect, U-shaped tenure, non-monotone price effect, plan x ticket
interaction) plus unobserved noise, so that a linear model beats the base rate, a tree
ensemble beats the linear model, and more data helps the tree ensemble.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from synthetic.customers import PREMIUM, Customers

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MAX_DAILY_HAZARD = 0.5
DAILY_NOISE_SD = 0.3


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def risk_score(
    customers: Customers,
    mean_logins_14d: FloatArray,
    tickets_30d: FloatArray,
    tenure_days: FloatArray,
    noise: FloatArray,
) -> FloatArray:
    """Log-relative churn risk s_i(t) for every customer on one day."""
    # Threshold-like: risk jumps once the 14-day login average drops below ~0.8/day.
    disengaged = 2.5 * _sigmoid((0.8 - mean_logins_14d) / 0.08)
    # Saturating: the first ticket matters most, the fifth hardly adds anything.
    tickets = 1.3 * (1.0 - np.exp(-0.9 * tickets_30d))
    # U-shaped tenure: new customers are fickle for their first months, and after ~18 months
    # (when the original signup offers ran out) long-standing customers drift away.
    tenure = 2.0 * np.exp(-tenure_days / 90.0) + 2.5 * _sigmoid((tenure_days - 540.0) / 10.0)
    # Non-monotone price effect: deep-promo hunters and full-price payers leave more often.
    ratio = customers.price_ratio
    price = 1.8 * (ratio < 0.85) + 1.2 * (ratio > 0.995)
    # Interaction: premium customers with support trouble are especially at risk.
    premium_trouble = 2.0 * ((customers.plan == PREMIUM) & (tickets_30d > 0))
    score: FloatArray = (
        disengaged + tickets + tenure + price + premium_trouble + customers.frailty + noise
    )
    return score


def daily_hazard(score: FloatArray, at_risk: BoolArray, h0: float) -> FloatArray:
    """h_i = h0 * exp(s_i) / mean over at-risk customers of exp(s), capped; 0 if not at risk.

    Normalising by the at-risk mean pins the average daily hazard to h0 whatever the mix of
    the current population, so the realised 30-day churn rate tracks ``churn_rate``.
    """
    hazard = np.zeros_like(score)
    if not at_risk.any():
        return hazard
    relative = np.exp(score[at_risk] - score[at_risk].max())
    hazard[at_risk] = np.minimum(h0 * relative / relative.mean(), MAX_DAILY_HAZARD)
    return hazard

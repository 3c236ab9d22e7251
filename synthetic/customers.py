"""Static customer attributes: plan, region, signup time, price and the hidden per-customer traits.

Everything is a numpy column indexed by ``customer_id - 1``; ids are assigned in signup order,
as a real subscription database would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from synthetic.config import GeneratorConfig

PLANS = ("basic", "standard", "premium")
PLAN_SHARE = (0.45, 0.38, 0.17)
LIST_PRICE = (9.99, 19.99, 39.99)
REGIONS = ("north", "south", "east", "west")
REGION_SHARE = (0.30, 0.25, 0.25, 0.20)
PREMIUM = PLANS.index("premium")

SECONDS_PER_DAY = 86_400
HISTORY_DAYS = 730
"""Pre-window signups are spread over up to two years before the window starts."""
IN_WINDOW_SHARE = 0.2
"""Share of customers who sign up during the first half of the simulated window."""

# Hidden engagement level: log of the expected daily logins.
_BASE_LEVEL = 0.35
_PLAN_LEVEL = np.array([-0.15, 0.0, 0.2])
_REGION_LEVEL = np.array([0.05, -0.05, 0.0, -0.03])
_LEVEL_SD = 0.45
_FRAILTY_SD = 0.6

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Customers:
    """Per-customer columns (observed and hidden), all of length ``config.customers``."""

    plan: IntArray
    """Index into PLANS."""
    region: IntArray
    """Index into REGIONS."""
    signup_day: IntArray
    """Signup day relative to the window start (negative = before the window)."""
    signup_second: IntArray
    """Second of the signup day at which the customer signed up."""
    monthly_price: FloatArray
    price_ratio: FloatArray
    """monthly_price / list price of the plan (1.0 = full price)."""
    level: FloatArray
    """Hidden long-run engagement level the random walk reverts to."""
    frailty: FloatArray
    """Hidden, unobservable churn propensity."""


def draw_customers(rng: np.random.Generator, config: GeneratorConfig) -> Customers:
    """Draw N customers; ids (array positions) follow signup time."""
    n = config.customers
    in_window = rng.random(n) < IN_WINDOW_SHARE
    # Growth business: recent signups are more common than old ones (u ** 1.4 skews recent).
    days_before = np.ceil(HISTORY_DAYS * rng.random(n) ** 1.4).astype(np.int64)
    days_before = np.clip(days_before, 1, HISTORY_DAYS)
    window_day = rng.integers(0, max(1, config.days // 2), size=n)
    signup_day = np.where(in_window, window_day, -days_before)
    signup_second = rng.integers(0, SECONDS_PER_DAY, size=n)
    order = np.lexsort((signup_second, signup_day))
    signup_day = signup_day[order]
    signup_second = signup_second[order]

    plan = rng.choice(len(PLANS), size=n, p=PLAN_SHARE).astype(np.int64)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE).astype(np.int64)

    # 70% pay list price, 20% have a small loyalty discount, 10% are on a deep promotion.
    kind = rng.choice(3, size=n, p=(0.7, 0.2, 0.1))
    discount = np.where(
        kind == 0,
        0.0,
        np.where(kind == 1, rng.uniform(0.03, 0.12, size=n), rng.uniform(0.2, 0.4, size=n)),
    )
    list_price = np.asarray(LIST_PRICE)[plan]
    monthly_price = np.round(list_price * (1.0 - discount), 2)

    level = (
        _BASE_LEVEL + _PLAN_LEVEL[plan] + _REGION_LEVEL[region] + rng.normal(0.0, _LEVEL_SD, size=n)
    )
    frailty = rng.normal(0.0, _FRAILTY_SD, size=n)
    return Customers(
        plan=plan,
        region=region,
        signup_day=signup_day.astype(np.int64),
        signup_second=signup_second.astype(np.int64),
        monthly_price=monthly_price,
        price_ratio=monthly_price / list_price,
        level=level,
        frailty=frailty,
    )

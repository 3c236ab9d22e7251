"""Day-by-day simulation of engagement, activity, support tickets and churn.

Vectorised over customers with numpy; the only Python loop is over days. A short burn-in
before the window warms up the rolling state (14-day logins, 30-day tickets) so the first
simulated days look like any other day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from synthetic.config import GeneratorConfig
from synthetic.customers import REGIONS, Customers
from synthetic.risk import DAILY_NOISE_SD, daily_hazard, risk_score

CATEGORIES = ("billing", "technical", "account", "cancellation")
CANCELLATION = CATEGORIES.index("cancellation")
NO_CHURN = np.iinfo(np.int64).max // 4
"""churn_day of customers who have not (yet) decided to leave."""

BURN_IN_DAYS = 30
LOGIN_WINDOW = 14
TICKET_WINDOW = 30

# Engagement: mean-reverting AR(1) around the customer level, plus rare decaying slumps.
_PHI = 0.92
_SIGMA = 0.18
_SLUMP_PROB = 0.004
_SLUMP_DECAY = 0.97
_PENDING_DROP = 1.0
_WEEKDAY_FACTOR = np.array([1.0, 1.02, 1.03, 1.0, 0.95, 0.8, 0.75])  # Monday first
_MAX_ENGAGEMENT = 2.5
"""Cap on log expected logins (about 12 a day) to keep power users plausible."""
_PLAN_SPEND_BIAS = np.array([-0.3, 0.0, 0.4])

# Support tickets per active day, by category, before the low-engagement multiplier.
_TICKET_RATE = np.array([0.004, 0.0035, 0.002, 0.0003])
_TECHNICAL_REGION = REGIONS.index("west")
_TECHNICAL_REGION_FACTOR = 3.0
_SMALL_POISSON_MAX = 12
_CANCEL_TICKET_PROB = 0.6
_CANCEL_DELAY_P = 0.35

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Simulation:
    """Raw simulation output: dense (customer x day) activity matrices and sparse events."""

    logins: npt.NDArray[np.int16]
    sessions: npt.NDArray[np.int16]
    minute_tenths: npt.NDArray[np.int32]
    """Minutes of use in tenths of a minute (rounded once here, exact as a float later)."""
    spend_cents: npt.NDArray[np.int32]
    churn_day: IntArray
    """Window day of churn, or >= days when the customer did not churn in the window."""
    ticket_customer: IntArray
    """Array position (customer_id - 1) of the customer who opened each ticket."""
    ticket_day: IntArray
    ticket_category: IntArray


class _Rolling:
    """Rolling per-customer sum over the last ``window`` days, kept in a ring buffer."""

    def __init__(self, window: int, n: int) -> None:
        self.ring = np.zeros((window, n), dtype=np.int16)
        self.total = np.zeros(n, dtype=np.int64)

    def push(self, day: int, values: IntArray) -> None:
        """Add today's values and forget the ones that fell out of the window."""
        slot = day % self.ring.shape[0]
        self.total += values - self.ring[slot]
        self.ring[slot] = values


def simulate(rng: np.random.Generator, config: GeneratorConfig, customers: Customers) -> Simulation:
    """Run the hidden process from the burn-in to the last simulated day."""
    n, days = config.customers, config.days
    h0 = config.daily_hazard
    weekday = _WEEKDAY_FACTOR[(config.start.weekday() + np.arange(-BURN_IN_DAYS, days)) % 7]
    ticket_rates = np.broadcast_to(_TICKET_RATE, (n, len(CATEGORIES))).copy()
    ticket_rates[customers.region == _TECHNICAL_REGION, 1] *= _TECHNICAL_REGION_FACTOR
    ticket_cdf = np.cumsum(ticket_rates / ticket_rates.sum(axis=1, keepdims=True), axis=1)
    spend_bias = _PLAN_SPEND_BIAS[customers.plan]

    logins_mat = np.zeros((n, days), dtype=np.int16)
    sessions_mat = np.zeros((n, days), dtype=np.int16)
    minutes_mat = np.zeros((n, days), dtype=np.int32)
    spend_mat = np.zeros((n, days), dtype=np.int32)
    churn_day = np.full(n, NO_CHURN, dtype=np.int64)
    deviation = rng.normal(0.0, _SIGMA / np.sqrt(1.0 - _PHI**2), size=n)
    slump = np.zeros(n)
    logins_14d = _Rolling(LOGIN_WINDOW, n)
    tickets_30d = _Rolling(TICKET_WINDOW, n)
    events: list[tuple[IntArray, IntArray, IntArray]] = []

    for step, t in enumerate(range(-BURN_IN_DAYS, days)):
        tenure = t - customers.signup_day
        active = (tenure >= 0) & (t <= churn_day)
        decided = churn_day != NO_CHURN
        deviation = _PHI * deviation + rng.normal(0.0, _SIGMA, size=n)
        slumped = np.flatnonzero(rng.random(n) < _SLUMP_PROB)
        slump *= _SLUMP_DECAY
        slump[slumped] -= rng.gamma(4.0, 0.22, size=slumped.size)
        engagement = customers.level + deviation + slump - _PENDING_DROP * decided

        login_rate = np.exp(np.minimum(engagement, _MAX_ENGAGEMENT)) * weekday[step]
        logins = rng.poisson(login_rate) * active
        sessions = (logins + rng.poisson(0.4 * logins + 0.05)) * active
        used = np.flatnonzero(sessions)
        minutes = np.zeros(n)
        minutes[used] = rng.gamma(
            1.6 * sessions[used], 8.5 * np.exp(0.25 * (engagement[used] - customers.level[used]))
        )
        buy_p = 1.0 / (1.0 + np.exp(3.0 - 0.9 * (engagement[used] - 0.35) - spend_bias[used]))
        buyers = used[rng.random(used.size) < buy_p]
        spend = np.zeros(n)
        spend[buyers] = (
            customers.monthly_price[buyers] * 0.15 * rng.lognormal(0.0, 0.6, size=buyers.size)
        )
        logins_14d.push(t, logins)

        # Tickets: a Poisson count per customer (more when engagement is low), then a category.
        multiplier = np.minimum(np.exp(-0.7 * (engagement - 0.35)), 8.0) * active
        counts = _small_poisson(rng, ticket_rates.sum(axis=1) * multiplier)
        owner = np.repeat(np.arange(n), counts)
        category = (rng.random(owner.size)[:, None] > ticket_cdf[owner, :-1]).sum(axis=1)
        routine = np.bincount(owner[category != CANCELLATION], minlength=n)
        tickets_30d.push(t, routine)
        if t < 0:
            continue

        logins_mat[:, t] = logins
        sessions_mat[:, t] = sessions
        minutes_mat[:, t] = np.rint(minutes * 10.0)
        spend_mat[:, t] = np.rint(spend * 100.0)
        events.append((owner, np.full(owner.size, t), category))

        seen = np.clip(tenure + 1, 1, LOGIN_WINDOW)
        score = risk_score(
            customers,
            mean_logins_14d=logins_14d.total / seen,
            tickets_30d=tickets_30d.total.astype(np.float64),
            tenure_days=tenure.astype(np.float64),
            noise=rng.normal(0.0, DAILY_NOISE_SD, size=n),
        )
        at_risk = active & ~decided & (tenure > 0)
        leaving = np.flatnonzero(rng.random(n) < daily_hazard(score, at_risk, h0))
        # Many leavers first open a cancellation ticket and go a few days later.
        warns = rng.random(leaving.size) < _CANCEL_TICKET_PROB
        delay = np.where(warns, rng.geometric(_CANCEL_DELAY_P, size=leaving.size), 0)
        churn_day[leaving] = t + delay
        warned = leaving[warns]
        events.append(
            (warned, np.full(warned.size, t), np.full(warned.size, CANCELLATION, dtype=np.int64))
        )

    owners, ticket_days, categories = _concat(events)
    return Simulation(
        logins=logins_mat,
        sessions=sessions_mat,
        minute_tenths=minutes_mat,
        spend_cents=spend_mat,
        churn_day=churn_day,
        ticket_customer=owners,
        ticket_day=ticket_days,
        ticket_category=categories,
    )


def _small_poisson(rng: np.random.Generator, rate: FloatArray) -> IntArray:
    """Poisson draws for small rates by inverting the CDF of one uniform (faster than
    ``rng.poisson`` for rates << 1); exact for counts up to ``_SMALL_POISSON_MAX``."""
    u = rng.random(rate.size)
    term = np.exp(-rate)
    cdf = term.copy()
    counts = np.zeros(rate.size, dtype=np.int64)
    for k in range(1, _SMALL_POISSON_MAX + 1):
        exceeded = u > cdf
        if not exceeded.any():
            break
        counts += exceeded
        term *= rate / k
        cdf += term
    return counts


def _concat(events: list[tuple[IntArray, IntArray, IntArray]]) -> tuple[IntArray, ...]:
    """Concatenate per-day ticket arrays into three int64 columns."""
    if not events:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return tuple(np.concatenate([e[i] for e in events]).astype(np.int64) for i in range(3))

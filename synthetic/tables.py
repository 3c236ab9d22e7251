"""Turn the simulation into the four raw tables, column by column with numpy."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from synthetic.config import GeneratorConfig
from synthetic.customers import PLANS, REGIONS, SECONDS_PER_DAY, Customers
from synthetic.simulation import CATEGORIES, Simulation

IntArray = npt.NDArray[np.int64]
_US_PER_SECOND = 1_000_000
_US_PER_DAY = SECONDS_PER_DAY * _US_PER_SECOND
_EPOCH = datetime.date(1970, 1, 1)


@dataclass(frozen=True)
class RawTables:
    """The four raw tables a real subscription business would export."""

    customers: pd.DataFrame
    activity: pd.DataFrame
    tickets: pd.DataFrame
    churn_events: pd.DataFrame


def build_tables(
    rng: np.random.Generator, config: GeneratorConfig, customers: Customers, sim: Simulation
) -> RawTables:
    """Assemble the raw tables; intraday times are drawn here, consistent with signup/churn."""
    start_us = (config.start - _EPOCH).days * _US_PER_DAY
    churned = sim.churn_day < config.days
    churn_second = np.where(churned, rng.integers(1, SECONDS_PER_DAY, size=config.customers), 0)
    return RawTables(
        customers=_customers_table(customers, start_us),
        activity=_activity_table(config, customers, sim, start_us),
        tickets=_tickets_table(rng, customers, sim, churn_second, start_us),
        churn_events=_churn_table(sim, churned, churn_second, start_us),
    )


def utc_timestamps(microseconds: IntArray) -> pd.Series:
    """int64 microseconds since the epoch -> datetime64[us, UTC] Series (no ns round trip)."""
    values = np.asarray(microseconds, dtype=np.int64).view("datetime64[us]")
    return pd.Series(values, dtype=pd.DatetimeTZDtype(unit="us", tz="UTC"), copy=False)


def _frame(columns: dict[str, object]) -> pd.DataFrame:
    """DataFrame over the given columns without copying or consolidating them into blocks."""
    return pd.DataFrame(columns, copy=False)


def _labels(names: tuple[str, ...], codes: IntArray) -> npt.NDArray[np.object_]:
    """Category codes -> object array of Python str."""
    return np.asarray(names, dtype=object)[codes]


def _customers_table(customers: Customers, start_us: int) -> pd.DataFrame:
    n = customers.plan.size
    signup_us = (
        start_us
        + (customers.signup_day * SECONDS_PER_DAY + customers.signup_second) * _US_PER_SECOND
    )
    return _frame(
        {
            "customer_id": np.arange(1, n + 1, dtype=np.int64),
            "plan": _labels(PLANS, customers.plan),
            "region": _labels(REGIONS, customers.region),
            "signup_at": utc_timestamps(signup_us),
            "monthly_price": customers.monthly_price.astype(np.float64),
        }
    )


def _activity_table(
    config: GeneratorConfig, customers: Customers, sim: Simulation, start_us: int
) -> pd.DataFrame:
    """One row per customer per active window day, customer-major like the dense matrices."""
    day = np.arange(config.days)
    first = np.maximum(customers.signup_day, 0)
    last = np.minimum(sim.churn_day, config.days - 1)
    mask = (day[None, :] >= first[:, None]) & (day[None, :] <= last[:, None])
    counts = np.maximum(last - first + 1, 0)
    rows = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    # Active days are contiguous per customer, so the day of row r is first + (r - offset).
    timestamps = np.arange(rows, dtype=np.int64)
    timestamps -= np.repeat(offsets - first, counts)
    timestamps *= _US_PER_DAY
    timestamps += start_us
    return _frame(
        {
            "customer_id": np.repeat(np.arange(1, counts.size + 1, dtype=np.int64), counts),
            "activity_date": utc_timestamps(timestamps),
            "logins": sim.logins[mask].astype(np.int64),
            "sessions": sim.sessions[mask].astype(np.int64),
            "minutes": sim.minute_tenths[mask] / 10.0,
            "spend": sim.spend_cents[mask] / 100.0,
        }
    )


def _tickets_table(
    rng: np.random.Generator,
    customers: Customers,
    sim: Simulation,
    churn_second: IntArray,
    start_us: int,
) -> pd.DataFrame:
    """Tickets open after signup on the signup day and before churn on the churn day."""
    owner, day = sim.ticket_customer, sim.ticket_day
    low = np.where(day == customers.signup_day[owner], customers.signup_second[owner], 0)
    high = np.where(day == sim.churn_day[owner], churn_second[owner], SECONDS_PER_DAY)
    second = low + np.floor(rng.random(owner.size) * (high - low)).astype(np.int64)
    opened_us = start_us + (day * SECONDS_PER_DAY + second) * _US_PER_SECOND
    order = np.lexsort((sim.ticket_category, owner, opened_us))
    return _frame(
        {
            "ticket_id": np.arange(1, owner.size + 1, dtype=np.int64),
            "customer_id": owner[order] + 1,
            "opened_at": utc_timestamps(opened_us[order]),
            "category": _labels(CATEGORIES, sim.ticket_category[order]),
        }
    )


def _churn_table(
    sim: Simulation, churned: npt.NDArray[np.bool_], churn_second: IntArray, start_us: int
) -> pd.DataFrame:
    index = np.flatnonzero(churned)
    churn_us = (
        start_us + (sim.churn_day[index] * SECONDS_PER_DAY + churn_second[index]) * _US_PER_SECOND
    )
    return _frame(
        {
            "customer_id": (index + 1).astype(np.int64),
            "churned_at": utc_timestamps(churn_us),
        }
    )

"""What each scenario of ``synthetic.scenarios`` does to the raw tables (see the catalogue there).

Scenarios apply in a fixed order whatever order they were given in: ``rare_churn`` changes the
simulation's configuration, ``new_region`` simulates an extra cohort, then the table edits
``biased_sampling``, ``label_noise``, ``price_shock``, ``missing_logins``, ``missing_at_random``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from synthetic.config import GeneratorConfig
from synthetic.customers import SECONDS_PER_DAY, draw_customers
from synthetic.scenarios import Scenario
from synthetic.simulation import simulate
from synthetic.tables import RawTables, build_tables

MISSING_AT_RANDOM_COLUMNS = {
    "customers": ("plan", "region", "monthly_price"),
    "activity": ("logins", "sessions", "minutes", "spend"),
    "tickets": ("category",),
}
_TABLE_ORDER = ("biased_sampling", "label_noise", "price_shock", "missing_logins")


def simulation_config(config: GeneratorConfig, scenarios: tuple[Scenario, ...]) -> GeneratorConfig:
    """The configuration the hidden process runs with (``rare_churn`` sets the churn rate)."""
    base = dataclasses.replace(config, scenarios=())
    for scenario in scenarios:
        if scenario.name == "rare_churn":
            base = dataclasses.replace(base, churn_rate=float(scenario["rate"]))
    return base


def apply_scenarios(
    tables: RawTables, config: GeneratorConfig, scenarios: tuple[Scenario, ...]
) -> RawTables:
    """The baseline tables with every (non-configuration) scenario applied, in catalogue order."""
    by_name = {s.name: s for s in scenarios}
    if "new_region" in by_name:
        tables = _append(tables, _new_region_cohort(config, by_name["new_region"]))
    for name in _TABLE_ORDER:
        if name in by_name:
            tables = _TABLE_EDITS[name](tables, config, by_name[name])
    if "missing_at_random" in by_name:
        tables = _missing_at_random(tables, config, by_name["missing_at_random"])
    return tables


def _window_end(config: GeneratorConfig) -> pd.Timestamp:
    return pd.Timestamp(config.end, tz="UTC")


def _last_days(config: GeneratorConfig, days: int, column: pd.Series) -> np.ndarray:
    """Rows whose timestamp falls in the last ``days`` days of the window."""
    start = _window_end(config) - pd.Timedelta(days=days)
    return np.asarray(column >= start)


def _new_region_cohort(config: GeneratorConfig, scenario: Scenario) -> RawTables:
    """A cohort signing up during the last ``days`` days in a region the data never had."""
    rng = scenario.rng(config.seed)
    size = max(1, round(float(scenario["share"]) * config.customers))
    cohort_config = dataclasses.replace(simulation_config(config, ()), customers=size)
    customers = draw_customers(rng, cohort_config)
    days = int(scenario["days"])
    signup_day = rng.integers(config.days - days, config.days, size=size)
    signup_second = rng.integers(0, SECONDS_PER_DAY, size=size)
    order = np.lexsort((signup_second, signup_day))
    customers = dataclasses.replace(
        customers,
        signup_day=signup_day[order].astype(np.int64),
        signup_second=signup_second[order].astype(np.int64),
    )
    cohort = build_tables(rng, cohort_config, customers, simulate(rng, cohort_config, customers))
    cohort.customers["region"] = str(scenario["region"])
    return cohort


def _append(base: RawTables, cohort: RawTables) -> RawTables:
    """Cohort customers get ids after the base ones; tickets are re-sorted and renumbered."""
    offset = int(base.customers["customer_id"].max())
    for frame in (cohort.customers, cohort.activity, cohort.tickets, cohort.churn_events):
        frame["customer_id"] += offset
    tickets = pd.concat([base.tickets, cohort.tickets], ignore_index=True)
    tickets = tickets.sort_values(["opened_at", "customer_id"], kind="stable", ignore_index=True)
    tickets["ticket_id"] = np.arange(1, len(tickets) + 1, dtype=np.int64)
    return RawTables(
        customers=pd.concat([base.customers, cohort.customers], ignore_index=True),
        activity=pd.concat([base.activity, cohort.activity], ignore_index=True),
        tickets=tickets,
        churn_events=pd.concat([base.churn_events, cohort.churn_events], ignore_index=True),
    )


def _biased_sampling(tables: RawTables, config: GeneratorConfig, scenario: Scenario) -> RawTables:
    rng = scenario.rng(config.seed)
    column = "region" if "region" in scenario.params else "plan"
    customers = tables.customers
    in_group = np.asarray(customers[column] == scenario[column])
    keep = ~in_group | (rng.random(len(customers)) < float(scenario["keep"]))
    kept = customers.loc[keep, "customer_id"]
    return RawTables(
        **{
            name: frame[frame["customer_id"].isin(kept)].reset_index(drop=True)
            for name, frame in dataclasses.asdict(tables).items()
        }
    )


def _label_noise(tables: RawTables, config: GeneratorConfig, scenario: Scenario) -> RawTables:
    """Flip each customer's churn record with probability ``rate``."""
    rng = scenario.rng(config.seed)
    customers = tables.customers
    flip = rng.random(len(customers)) < float(scenario["rate"])
    churned = customers["customer_id"].isin(tables.churn_events["customer_id"]).to_numpy()
    drop = customers.loc[flip & churned, "customer_id"]
    add = customers.loc[flip & ~churned]
    start = pd.Timestamp(config.start, tz="UTC").as_unit("us")
    first = add["signup_at"].where(add["signup_at"] > start, start)
    span = (_window_end(config) - first).dt.total_seconds().to_numpy()
    offset = np.floor(rng.random(len(add)) * np.maximum(span - 1, 0)).astype(np.int64) + 1
    added = pd.DataFrame(
        {
            "customer_id": add["customer_id"].to_numpy(),
            "churned_at": (first + pd.to_timedelta(offset, unit="s")).to_numpy(),
        }
    )
    kept = tables.churn_events[~tables.churn_events["customer_id"].isin(drop)]
    events = pd.concat([kept, added.astype(kept.dtypes.to_dict())], ignore_index=True)
    events = events.sort_values("customer_id", ignore_index=True)
    return dataclasses.replace(tables, churn_events=events)


def _price_shock(tables: RawTables, config: GeneratorConfig, scenario: Scenario) -> RawTables:
    activity = tables.activity.copy()
    late = _last_days(config, int(scenario["days"]), activity["activity_date"])
    spend = activity["spend"].to_numpy(dtype=np.float64, copy=True)
    spend[late] = np.round(spend[late] * float(scenario["factor"]), 2)
    activity["spend"] = spend
    return dataclasses.replace(tables, activity=activity)


def _missing_logins(tables: RawTables, config: GeneratorConfig, scenario: Scenario) -> RawTables:
    rng = scenario.rng(config.seed)
    activity = tables.activity.copy()
    late = _last_days(config, int(scenario["days"]), activity["activity_date"])
    # A tracking outage: a ``rate`` share of customers (say, one app version) log no logins.
    customers = tables.customers["customer_id"].to_numpy()
    hit = customers[rng.random(customers.size) < float(scenario["rate"])]
    missing = late & activity["customer_id"].isin(hit).to_numpy()
    activity["logins"] = activity["logins"].astype("Int64").mask(missing)
    return dataclasses.replace(tables, activity=activity)


def _missing_at_random(tables: RawTables, config: GeneratorConfig, scenario: Scenario) -> RawTables:
    rng = scenario.rng(config.seed)
    rate = float(scenario["rate"])
    edited: dict[str, pd.DataFrame] = {}
    for table, columns in MISSING_AT_RANDOM_COLUMNS.items():
        frame = getattr(tables, table).copy()
        for column in columns:
            missing = rng.random(len(frame)) < rate
            values = frame[column]
            if pd.api.types.is_integer_dtype(values):
                values = values.astype("Int64")
            elif values.dtype == object:
                values = values.astype(object)
            values = values.mask(missing)
            if values.dtype == object:
                values = values.where(values.notna(), None)
            frame[column] = values
        edited[table] = frame
    return dataclasses.replace(tables, **edited)


_TABLE_EDITS = {
    "biased_sampling": _biased_sampling,
    "label_noise": _label_noise,
    "price_shock": _price_shock,
    "missing_logins": _missing_logins,
}

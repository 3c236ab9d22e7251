"""Seeded synthetic data for the delivery example: Feast's source tables and the label table.

    python examples/delivery/generate.py [--out examples/delivery] [--couriers 120] [--days 42]

writes, under `--out` (default: this example's directory):

- `feature_repo/data/courier_daily.parquet`, `zone_daily.parquet`, `courier_zone_weekly.parquet`:
  the sources of the Feast repo, one row per courier (zone, pair) per day (week), stamped at
  00:00 UTC with the figures known at that moment;
- `data/orders.parquet`: the label table, one row per order: the join keys `courier_id` and
  `zone_id`, `event_timestamp` (when the order was placed, UTC), the request fields `distance_km`
  and `order_hour`, and two labels: `delivery_minutes` (regression) and `is_late` (binary,
  over 30 minutes).

Minutes grow with distance (per vehicle), the zone's traffic and rain, peak hours and the
courier's habitual delay, and shrink with the courier's familiarity with the zone, so each
feature view carries signal. Same seed, same files.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2026-03-02", tz="UTC")
VEHICLES = ("bike", "scooter", "car")
MINUTES_PER_KM = {"bike": 4.0, "scooter": 2.8, "car": 2.2}
ZONE_TYPES = ("downtown", "residential", "suburb")
ZONE_TRAFFIC = {"downtown": 1.45, "residential": 1.15, "suburb": 1.0}
PEAK_HOURS = (11, 12, 13, 18, 19, 20)
PROMISED_MINUTES = 30.0
ZONES = 12


@dataclass(frozen=True)
class Generated:
    """The files written and the size of the label table."""

    sources: tuple[Path, ...]
    labels: Path
    orders: int


def generate(out: Path = HERE, *, couriers: int = 120, days: int = 42, seed: int = 7) -> Generated:
    """Write the three source tables and the label table under `out`; same seed, same files."""
    if couriers < 1 or days < 15:
        raise ValueError(f"need at least 1 courier and 15 days, got {couriers} and {days}")
    rng = np.random.default_rng(seed)
    people = _couriers(rng, couriers)
    zones = _zones(rng, days)
    daily = _courier_daily(rng, people, days)
    weekly = _courier_zone_weekly(rng, people, days)
    orders = _orders(rng, people, zones, daily, weekly, days)

    features_dir, labels_dir = out / "feature_repo" / "data", out / "data"
    features_dir.mkdir(parents=True, exist_ok=True)
    labels_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "courier_daily": daily.drop(columns=["skill"]),
        "zone_daily": zones,
        "courier_zone_weekly": weekly,
    }
    sources = tuple(features_dir / f"{name}.parquet" for name in tables)
    for path, frame in zip(sources, tables.values(), strict=True):
        frame.to_parquet(path, index=False)
    labels = labels_dir / "orders.parquet"
    orders.to_parquet(labels, index=False)
    return Generated(sources=sources, labels=labels, orders=len(orders))


def _couriers(rng: np.random.Generator, count: int) -> pd.DataFrame:
    """Each courier's vehicle, skill (higher: faster, better rated) and three home zones."""
    homes = [rng.choice(ZONES, size=3, replace=False) for _ in range(count)]
    return pd.DataFrame(
        {
            "courier_id": [f"c-{i:04d}" for i in range(count)],
            "vehicle": rng.choice(VEHICLES, size=count, p=[0.45, 0.35, 0.2]),
            "skill": rng.normal(0.0, 1.0, size=count),
            "homes": [[_zone_id(z) for z in home] for home in homes],
        }
    )


def _zones(rng: np.random.Generator, days: int) -> pd.DataFrame:
    """Daily traffic and rain per zone; downtown is slowest."""
    kinds = rng.choice(ZONE_TYPES, size=ZONES)
    rainy = rng.random(days) < 0.3  # the whole city gets the same weather
    rain = np.where(rainy, rng.gamma(2.0, 3.0, size=days), 0.0)
    rows = []
    for z, kind in enumerate(kinds):
        for day in range(days):
            weekend = (START + pd.Timedelta(days=day)).dayofweek >= 5
            traffic = ZONE_TRAFFIC[kind] * (0.9 if weekend else 1.0) + rng.normal(0, 0.06)
            rows.append((_zone_id(z), _day(day), str(kind), round(max(traffic, 0.8), 3), rain[day]))
    return pd.DataFrame(
        rows, columns=["zone_id", "event_timestamp", "zone_type", "traffic_index", "rain_mm"]
    )


def _courier_daily(rng: np.random.Generator, people: pd.DataFrame, days: int) -> pd.DataFrame:
    """One row per courier and day: rating, recent volume and delay, the last zones served."""
    n = len(people)
    frames = []
    for day in range(days):
        skill = people["skill"].to_numpy()
        frames.append(
            pd.DataFrame(
                {
                    "courier_id": people["courier_id"],
                    "event_timestamp": _day(day),
                    "created": _day(day) + pd.Timedelta(minutes=5),
                    "vehicle": people["vehicle"],
                    "rating": np.clip(4.4 + 0.25 * skill + rng.normal(0, 0.1, n), 1, 5).round(2),
                    "deliveries_7d": rng.poisson(np.clip(30 + 6 * skill, 5, None)),
                    "avg_delay_min_7d": np.clip(3.0 - 1.5 * skill + rng.normal(0, 0.5, n), 0, None),
                    "recent_zones": [list(rng.permutation(h)[:2]) for h in people["homes"]],
                    "skill": skill,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _courier_zone_weekly(rng: np.random.Generator, people: pd.DataFrame, days: int) -> pd.DataFrame:
    """Weekly deliveries of each courier in each home zone over the last 28 days."""
    rows = []
    for courier_id, homes in zip(people["courier_id"], people["homes"], strict=True):
        base = rng.integers(5, 60, size=len(homes))
        for week in range(0, days, 7):
            for zone_id, level in zip(homes, base, strict=True):
                rows.append((courier_id, zone_id, _day(week), int(rng.poisson(level))))
    return pd.DataFrame(
        rows, columns=["courier_id", "zone_id", "event_timestamp", "deliveries_in_zone_28d"]
    )


def _orders(
    rng: np.random.Generator,
    people: pd.DataFrame,
    zones: pd.DataFrame,
    daily: pd.DataFrame,
    weekly: pd.DataFrame,
    days: int,
) -> pd.DataFrame:
    """About one order per courier and day from day 8 on, labelled with minutes to deliver."""
    order_days = np.arange(8, days)
    per_day = rng.poisson(1.0, size=(len(people), len(order_days)))
    rows = []
    for i, (courier_id, homes) in enumerate(
        zip(people["courier_id"], people["homes"], strict=True)
    ):
        for j, day in enumerate(order_days):
            count = int(per_day[i, j])
            for second in np.sort(rng.choice(86_400, size=count, replace=False)):
                home = rng.random() < 0.8
                zone_id = homes[rng.integers(len(homes))] if home else _zone_id(rng.integers(ZONES))
                when = _day(int(day)) + pd.Timedelta(seconds=int(second))
                rows.append((courier_id, zone_id, when))
    orders = pd.DataFrame(rows, columns=["courier_id", "zone_id", "event_timestamp"])
    orders.insert(0, "order_id", [f"o-{i:06d}" for i in range(len(orders))])
    orders["distance_km"] = (0.5 + rng.gamma(2.0, 1.4, size=len(orders))).round(2)
    orders["order_hour"] = orders["event_timestamp"].dt.hour.astype("int64")
    orders["delivery_minutes"] = _minutes(rng, orders, zones, daily, weekly).round(1)
    orders["is_late"] = (orders["delivery_minutes"] > PROMISED_MINUTES).astype("int64")
    return orders


def _minutes(
    rng: np.random.Generator,
    orders: pd.DataFrame,
    zones: pd.DataFrame,
    daily: pd.DataFrame,
    weekly: pd.DataFrame,
) -> pd.Series:
    """The ground truth: from the same day's (week's) feature values the model will see."""
    day = orders["event_timestamp"].dt.floor("D")
    week = START + ((day - START).dt.days // 7 * 7).map(lambda d: pd.Timedelta(days=d))
    frame = orders.assign(day=day, week=week)
    frame = frame.merge(
        daily[["courier_id", "event_timestamp", "vehicle", "avg_delay_min_7d"]],
        left_on=["courier_id", "day"],
        right_on=["courier_id", "event_timestamp"],
        suffixes=("", "_c"),
    )
    frame = frame.merge(
        zones[["zone_id", "event_timestamp", "traffic_index", "rain_mm"]],
        left_on=["zone_id", "day"],
        right_on=["zone_id", "event_timestamp"],
        suffixes=("", "_z"),
    )
    familiar = weekly.rename(columns={"event_timestamp": "week"})
    frame = frame.merge(familiar, on=["courier_id", "zone_id", "week"], how="left")
    frame = frame.set_index("order_id").loc[orders["order_id"]]
    per_km = frame["vehicle"].map(MINUTES_PER_KM)
    minutes = (
        6.0
        + frame["distance_km"] * per_km * frame["traffic_index"]
        + 0.6 * frame["rain_mm"]
        + 5.0 * frame["order_hour"].isin(PEAK_HOURS)
        + 1.2 * frame["avg_delay_min_7d"]
        - 0.08 * frame["deliveries_in_zone_28d"].fillna(0).clip(upper=60)
        + rng.normal(0.0, 3.0, size=len(frame))
    )
    return pd.Series(np.clip(minutes.to_numpy(), 4.0, None), index=orders.index)


def _day(day: int) -> pd.Timestamp:
    return START + pd.Timedelta(days=day)


def _zone_id(index: int | np.integer) -> str:
    return f"z-{index:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="the example's directory")
    parser.add_argument("--couriers", type=int, default=120)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    made = generate(args.out, couriers=args.couriers, days=args.days, seed=args.seed)
    print(f"wrote {len(made.sources)} feature tables and {made.labels} ({made.orders} orders)")


if __name__ == "__main__":
    main()

"""Configuration of the synthetic churn generator, validated at construction time."""

from __future__ import annotations

import datetime
import math
import numbers
from dataclasses import dataclass

MAX_DAYS = 3660
"""Upper bound on the simulated window (10 years) so a typo cannot exhaust memory."""
_HISTORY_MARGIN_DAYS = 800
"""Signups reach about two years before the window; the calendar must have room for them."""


@dataclass(frozen=True, kw_only=True)
class GeneratorConfig:
    """What to simulate: how many customers, over which window, with which seed and churn level.

    ``end`` is exclusive: the last simulated day is ``end - 1 day`` and the first is
    ``end - days``. ``churn_rate`` is the target probability that an active customer churns
    within the next 30 days. ``scenarios`` are entries of the catalogue in
    ``synthetic.scenarios`` (for example ``"price_shock"`` or ``"label_noise:0.05"``).
    """

    customers: int = 5000
    days: int = 180
    seed: int = 42
    churn_rate: float = 0.05
    end: datetime.date
    scenarios: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_int("customers", self.customers, minimum=1)
        _require_int("days", self.days, minimum=1)
        if self.days > MAX_DAYS:
            raise ValueError(f"days must be <= {MAX_DAYS}, got {self.days!r}")
        _require_int("seed", self.seed, minimum=0)
        rate = self.churn_rate
        if (
            isinstance(rate, bool)
            or not isinstance(rate, numbers.Real)
            or not math.isfinite(rate)
            or not 0.0 < rate <= 0.5
        ):
            raise ValueError(f"churn_rate must be a number in (0, 0.5], got {rate!r}")
        end = self.end
        if isinstance(end, datetime.datetime) or not isinstance(end, datetime.date):
            raise ValueError(f"end must be a datetime.date (not a datetime), got {end!r}")
        try:
            end - datetime.timedelta(days=self.days + _HISTORY_MARGIN_DAYS)
        except OverflowError:
            message = f"end leaves no room for {self.days} days plus signup history, got {end!r}"
            raise ValueError(message) from None
        self._check_scenarios()

    def _check_scenarios(self) -> None:
        from synthetic.scenarios import parse_scenarios  # the catalogue imports customers

        if not isinstance(self.scenarios, tuple):
            raise ValueError(f"scenarios must be a tuple of strings, got {self.scenarios!r}")
        for scenario in parse_scenarios(self.scenarios):
            days = scenario.params.get("days")
            if isinstance(days, int) and days > self.days:
                raise ValueError(
                    f"scenarios: {scenario.name} days={days} exceeds the window "
                    f"(days={self.days}), got {self.scenarios!r}"
                )

    @property
    def start(self) -> datetime.date:
        """First simulated day (inclusive)."""
        return self.end - datetime.timedelta(days=self.days)

    @property
    def daily_hazard(self) -> float:
        """Mean daily churn hazard h0 such that 1 - (1 - h0) ** 30 == churn_rate."""
        return 1.0 - (1.0 - float(self.churn_rate)) ** (1.0 / 30.0)


def _require_int(name: str, value: object, *, minimum: int) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a (non-bool) integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")

"""The scenario catalogue: named, seeded changes to the generated data, parsed from strings.

A scenario is written ``name``, ``name:VALUE`` or ``name:key=value[:key=value...]``; several
combine (``--scenario price_shock --scenario label_noise:0.05``). Every scenario perturbs the
baseline data set of the same seed; with no scenario (or ``none``) the output is exactly the
baseline. Each scenario draws from its own random stream (seed, scenario), so adding one
scenario never changes the random draws of another.

========================  =============================================================
``none``                  the baseline: nothing changes.
``price_shock``           drift: ``activity.spend`` is multiplied by ``factor`` (1.5) on
                          the last ``days`` (30) days of the window (features
                          ``spend_30d``/``spend_90d`` shift).
``new_region``            drift: a new cohort of ``share`` (0.1) x customers signs up in
                          region ``region`` (``central``) during the last ``days`` (30)
                          days; the same hidden process simulates them (a category
                          appears in ``customers.region``).
``missing_logins``        missing data, drift: a tracking outage; for a random ``rate``
                          (0.9) share of customers ``activity.logins`` is null on every
                          day of the last ``days`` (30); the column becomes nullable
                          ``Int64``. The feature pipeline's SUM ignores nulls, so
                          ``logins_7d`` is null once a customer's 7 days are all missing
                          (mostly null in the last ``days - 6`` days), ``logins_30d`` and
                          ``logins_90d`` under-count, ``active_days_30d`` counts only
                          days with known logins.
``missing_at_random:R``   missing data: every value of ``customers.plan/region/
                          monthly_price``, ``activity.logins/sessions/minutes/spend`` and
                          ``tickets.category`` is null with probability R, whole window.
``label_noise:R``         each customer's churn record is flipped with probability R: a
                          recorded churn is dropped, or a churn at a random time is recorded
                          for a customer who stayed (behaviour tables are untouched).
``rare_churn:R``          extreme imbalance: the 30-day churn probability is R
                          (overrides ``churn_rate``).
``biased_sampling:        an under-represented population: only a random ``keep`` share
region=X:keep=K``         (0.2) of the customers with ``region`` (or ``plan``) X is kept,
                          with all their rows.
========================  =============================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from synthetic.customers import PLANS, REGIONS

Value = int | float | str


@dataclass(frozen=True)
class _Param:
    kind: type
    default: Value | None
    check: Callable[[Value], bool]
    rule: str


@dataclass(frozen=True)
class _Spec:
    params: Mapping[str, _Param]
    positional: str | None = None
    """Parameter that ``name:VALUE`` sets."""
    exactly_one_of: tuple[str, ...] = ()

    def usage(self, name: str) -> str:
        parts = [name]
        if self.positional:
            parts.append(self.positional.upper())
        if self.exactly_one_of:
            parts.append("|".join(f"{key}=X" for key in self.exactly_one_of))
        parts += [
            f"{key}={'X' if p.default is None else p.default}"
            for key, p in self.params.items()
            if key != self.positional and key not in self.exactly_one_of
        ]
        return ":".join(parts)


def _rate(low_open: float, high: float) -> _Param:
    return _Param(float, None, lambda v: low_open < float(v) <= high, f"in ({low_open}, {high}]")


def _days() -> _Param:
    return _Param(int, 30, lambda v: int(v) >= 1, ">= 1 (and <= the window's days)")


CATALOGUE: Mapping[str, _Spec] = MappingProxyType(
    {
        "none": _Spec(params={}),
        "price_shock": _Spec(
            params={
                "days": _days(),
                "factor": _Param(float, 1.5, lambda v: 0 < float(v) != 1, "> 0 and != 1"),
            }
        ),
        "new_region": _Spec(
            params={
                "days": _days(),
                "share": _Param(float, 0.1, lambda v: 0 < float(v) <= 1, "in (0, 1]"),
                "region": _Param(
                    str, "central", lambda v: bool(v) and v not in REGIONS, "a new region name"
                ),
            }
        ),
        "missing_logins": _Spec(
            params={
                "days": _days(),
                "rate": _Param(float, 0.9, lambda v: 0 < float(v) <= 1, "in (0, 1]"),
            }
        ),
        "missing_at_random": _Spec(params={"rate": _rate(0.0, 0.95)}, positional="rate"),
        "label_noise": _Spec(params={"rate": _rate(0.0, 0.5)}, positional="rate"),
        "rare_churn": _Spec(params={"rate": _rate(0.0, 0.5)}, positional="rate"),
        "biased_sampling": _Spec(
            params={
                "region": _Param(str, None, lambda v: v in REGIONS, f"one of {REGIONS}"),
                "plan": _Param(str, None, lambda v: v in PLANS, f"one of {PLANS}"),
                "keep": _Param(float, 0.2, lambda v: 0 <= float(v) < 1, "in [0, 1)"),
            },
            exactly_one_of=("region", "plan"),
        ),
    }
)
SCENARIO_NAMES = tuple(CATALOGUE)
DRIFT_SCENARIOS = ("price_shock", "new_region", "missing_logins")


def catalogue_usage() -> str:
    """Every scenario's syntax with its defaults, for error messages and --help."""
    return ", ".join(spec.usage(name) for name, spec in CATALOGUE.items())


@dataclass(frozen=True)
class Scenario:
    """One parsed scenario: its name and every parameter (defaults filled in)."""

    name: str
    params: Mapping[str, Value] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Value:
        return self.params[key]

    def rng(self, seed: int) -> np.random.Generator:
        """This scenario's own random stream for ``seed``."""
        return np.random.default_rng([seed, 7919, SCENARIO_NAMES.index(self.name)])


def parse_scenario(text: str) -> Scenario:
    """``"label_noise:0.05"`` -> Scenario("label_noise", {"rate": 0.05}); ValueError if invalid."""
    if not isinstance(text, str):
        raise ValueError(f"scenario must be a string, got {text!r}")
    name, *parts = text.strip().split(":")
    spec = CATALOGUE.get(name)
    if spec is None:
        raise ValueError(f"unknown scenario {name!r}: expected one of {catalogue_usage()}")
    raw: dict[str, str] = {}
    for index, part in enumerate(parts):
        key, sep, value = part.partition("=")
        if not sep:
            if index != 0 or spec.positional is None:
                raise _bad(text, name, spec, f"unexpected value {part!r}")
            key, value = spec.positional, part
        if key not in spec.params:
            raise _bad(text, name, spec, f"unknown parameter {key!r}")
        if key in raw:
            raise _bad(text, name, spec, f"parameter {key!r} given twice")
        raw[key] = value
    given = [key for key in spec.exactly_one_of if key in raw]
    if spec.exactly_one_of and len(given) != 1:
        raise _bad(text, name, spec, f"give exactly one of {', '.join(spec.exactly_one_of)}")
    params: dict[str, Value] = {}
    for key, param in spec.params.items():
        if key in raw:
            params[key] = _convert(text, name, spec, key, param, raw[key])
        elif param.default is not None:
            params[key] = param.default
        elif key not in spec.exactly_one_of:
            raise _bad(text, name, spec, f"parameter {key!r} is required")
    return Scenario(name=name, params=MappingProxyType(params))


def parse_scenarios(texts: Iterable[str]) -> tuple[Scenario, ...]:
    """Parse several scenarios; each name at most once, and ``none`` only on its own."""
    if isinstance(texts, str):
        raise ValueError(f"scenarios must be a sequence of strings, got the string {texts!r}")
    scenarios = tuple(parse_scenario(text) for text in texts)
    names = [s.name for s in scenarios]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"scenario {repeated[0]!r} given more than once")
    if "none" in names and len(names) > 1:
        raise ValueError("scenario 'none' cannot be combined with other scenarios")
    return tuple(s for s in scenarios if s.name != "none")


def _convert(text: str, name: str, spec: _Spec, key: str, param: _Param, value: str) -> Value:
    converted: Value
    try:
        converted = param.kind(value)
    except ValueError:
        raise _bad(
            text, name, spec, f"{key} must be a {param.kind.__name__}, got {value!r}"
        ) from None
    if isinstance(converted, float) and not math.isfinite(converted):
        raise _bad(text, name, spec, f"{key} must be finite, got {value!r}")
    if not param.check(converted):
        raise _bad(text, name, spec, f"{key} must be {param.rule}, got {value!r}")
    return converted


def _bad(text: str, name: str, spec: _Spec, problem: str) -> ValueError:
    return ValueError(
        f"scenario {text!r}: {problem}; usage: {spec.usage(name)} "
        f"(valid scenarios: {', '.join(SCENARIO_NAMES)})"
    )

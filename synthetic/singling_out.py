"""Singling-out risk: do predicates that isolate one synthetic row isolate one real person?

Re-implements anonymeter's univariate and multivariate singling-out attacks (anonymeter is not
a dependency: see synthetic/README.md) on numpy, vectorised over rows and predicates.

- attack predicates are read off the synthetic table: *univariate* ones are a value seen once
  (``col == v``) or an extreme (``col <= min``, ``col >= max``); *multivariate* ones are
  conjunctions of 2-3 conditions taken from a random synthetic row (``==`` for categories and
  nulls; for numbers ``<=`` or ``>=`` its value, towards the tail the row sits in). Like
  anonymeter, only predicates that single out exactly one synthetic row are kept;
- an attack succeeds when its predicate matches exactly one row of the real (training) table;
- the *baseline* guesses: predicates of the same shape with values drawn at random from each
  column's distinct values, not from any synthetic row;
- the *control* (with a holdout of real rows the synthesizer never saw): run the predicates on
  real + holdout rows; an attack succeeds there when it singles out exactly one row and that
  row is a real one. Rows are exchangeable unless the synthetic table leaks, so the control
  rate is exactly (predicates singling out one row) x n / (n + m), whatever the table sizes
  (anonymeter instead runs them on the holdout and extrapolates the count to the real table's
  size, which proved unstable with a 4x smaller holdout).

Risk is anonymeter's ``(success - reference) / (1 - reference)``, clipped at 0, with the 95%
Wilson score interval propagated to a confidence interval: against the control when there is a
holdout (a synthetic table drawn independently of the real one still singles out real rows by
generalisation, which the baseline cannot tell from a leak), against the baseline otherwise.
The baseline rate is always reported: an attack that does not beat it says little.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from synthetic.tabular import Kind, as_labels, as_numbers

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ATTACKS = 500
"""Predicates per attack mode (and as many for the baseline)."""
EQ, LE, GE = 0, 1, 2
CONFIDENCE = 0.95
_CHUNK = 250


@dataclass(frozen=True)
class Rate:
    """A success rate with its Wilson score interval half-width (95%)."""

    value: float
    error: float


@dataclass(frozen=True)
class Membership:
    """Attack predicates singling out one row of real + holdout, and how many hit a real row."""

    singled: int
    on_real: int
    chance: float
    """Share of real rows in real + holdout: the expected share without a leak."""


@dataclass(frozen=True)
class SinglingOut:
    """One mode's attack (``univariate`` or ``multivariate``) and its references."""

    mode: str
    attacks: int
    attack_rate: Rate
    """Share of attack predicates matching exactly one real row."""
    baseline_rate: Rate
    control: Membership | None

    def _residual(self) -> Rate:
        if self.control is None:
            return _residual(self.attack_rate, self.baseline_rate)
        return _residual(self.control_attack_rate, self.control_rate)

    @property
    def control_attack_rate(self) -> Rate:
        """Share of attacks singling out one row of real + holdout, and that row a real one."""
        assert self.control is not None
        return wilson(self.control.on_real, self.attacks)

    @property
    def control_rate(self) -> Rate:
        """What that share would be by chance (exchangeable rows): singled x n / (n + m)."""
        assert self.control is not None
        return wilson(self.control.singled * self.control.chance, self.attacks)

    @property
    def risk(self) -> float:
        return float(np.clip(self._residual().value, 0, 1))

    @property
    def ci(self) -> tuple[float, float]:
        """95% confidence interval of the risk, within [0, 1]."""
        residual = self._residual()
        low, high = residual.value - residual.error, residual.value + residual.error
        return float(np.clip(low, 0, 1)), float(np.clip(high, 0, 1))

    @property
    def significant(self) -> bool:
        """The interval excludes 0: the attack beats its reference beyond chance."""
        return self.ci[0] > 0

    @property
    def graded_risk(self) -> float:
        """The risk a verdict uses: 0 when not beyond chance."""
        return self.risk if self.significant else 0.0


class _Table:
    """Every column as float64: numbers and datetimes as such, categories as shared codes."""

    def __init__(self, frames: list[pd.DataFrame], kinds: Mapping[str, Kind]) -> None:
        self.columns = [c for c, k in kinds.items() if k != Kind.ID]
        self.numeric = np.array([kinds[c] != Kind.CATEGORY for c in self.columns], dtype=bool)
        self.codes: dict[str, dict[str, int]] = {}
        for c in self.columns:
            if kinds[c] == Kind.CATEGORY:
                levels = sorted(set().union(*(as_labels(f[c]).unique() for f in frames)))
                self.codes[c] = {v: i for i, v in enumerate(levels)}
        self.kinds = kinds

    def encode(self, frame: pd.DataFrame) -> FloatArray:
        parts = [
            as_labels(frame[c]).map(self.codes[c]).to_numpy(dtype=np.float64)
            if c in self.codes
            else as_numbers(frame[c], self.kinds[c])
            for c in self.columns
        ]
        return np.column_stack(parts) if parts else np.zeros((len(frame), 0))


@dataclass(frozen=True)
class _Predicates:
    """K conjunctions of up to 3 conditions (unused slots have column -1)."""

    column: IntArray
    op: IntArray
    value: FloatArray

    def __len__(self) -> int:
        return len(self.column)

    def take(self, index: IntArray) -> _Predicates:
        return _Predicates(self.column[index], self.op[index], self.value[index])


def matches(table: FloatArray, predicates: _Predicates) -> IntArray:
    """How many rows of ``table`` each predicate matches (nulls match only ``== null``).

    Each condition is an interval ``lo <= x <= hi`` with nulls encoded as +inf, which only an
    ``== null`` condition's [inf, inf] and an unused slot's [-inf, inf] contain."""
    x_all = np.where(np.isnan(table), np.inf, table)
    top = np.finfo(np.float64).max
    counts = np.zeros(len(predicates), dtype=np.int64)
    for start in range(0, len(predicates), _CHUNK):
        chunk = slice(start, start + _CHUNK)
        ok = np.ones((len(table), len(predicates.column[chunk])), dtype=bool)
        for slot in range(predicates.column.shape[1]):
            column, op = predicates.column[chunk, slot], predicates.op[chunk, slot]
            value = np.where(
                np.isnan(predicates.value[chunk, slot]), np.inf, predicates.value[chunk, slot]
            )
            lo = np.where(op == LE, -np.inf, value)
            hi = np.where(op == GE, top, value)
            unused = column < 0
            lo, hi = np.where(unused, -np.inf, lo), np.where(unused, np.inf, hi)
            x = x_all[:, np.maximum(column, 0)]
            ok &= (x >= lo) & (x <= hi)
        counts[chunk] = ok.sum(axis=0)
    return counts


def singling_out(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, Kind],
    *,
    holdout: pd.DataFrame | None = None,
    attacks: int = ATTACKS,
    seed: int = 0,
) -> list[SinglingOut]:
    """The univariate and multivariate attacks (see the module docstring), seeded."""
    frames = [real, synthetic] + ([holdout] if holdout is not None else [])
    space = _Table(frames, kinds)
    if not space.columns:
        return []
    rng = np.random.default_rng(seed)
    x_real, x_synth = space.encode(real), space.encode(synthetic)
    x_hold = None if holdout is None else space.encode(holdout)
    results = []
    for mode, width in (("univariate", 1), ("multivariate", min(3, len(space.columns)))):
        if mode == "univariate":
            candidates = _univariate(x_synth, space.numeric)
            candidates = candidates.take(np.sort(rng.permutation(len(candidates))[: 2 * attacks]))
        else:
            candidates = _multivariate(x_synth, space.numeric, width, 20 * attacks, rng)
        unique = candidates.take(np.flatnonzero(matches(x_synth, candidates) == 1))
        attack = unique.take(np.sort(rng.permutation(len(unique))[:attacks]))
        if len(attack) == 0:
            continue
        baseline = _random(x_synth, space.numeric, attack, rng)
        counts = matches(x_real, attack)
        control = None
        if x_hold is not None:
            # Exchangeability: a record singled out among real + holdout rows is a real one
            # with probability n / (n + m) unless the predicates come from the real rows.
            alone = (counts + matches(x_hold, attack)) == 1
            chance = len(x_real) / (len(x_real) + len(x_hold))
            control = Membership(int(alone.sum()), int(np.sum(alone & (counts == 1))), chance)
        results.append(
            SinglingOut(
                mode=mode,
                attacks=len(attack),
                attack_rate=wilson(int(np.sum(counts == 1)), len(attack)),
                baseline_rate=wilson(int(np.sum(matches(x_real, baseline) == 1)), len(baseline)),
                control=control,
            )
        )
    return results


def wilson(successes: float, trials: int) -> Rate:
    """Wilson score interval at 95%: its centre and half-width, as anonymeter reports rates."""
    z = float(norm.ppf(1 - (1 - CONFIDENCE) / 2))
    p = successes / trials
    scale = 1 / (1 + z**2 / trials)
    centre = (p + z**2 / (2 * trials)) * scale
    error = z * scale * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2))
    return Rate(float(centre), float(error))


def _residual(attack: Rate, reference: Rate) -> Rate:
    """Anonymeter's normalised risk, its error propagated from both rates."""
    if reference.value >= 1:
        return Rate(0.0, 0.0)
    left = 1 - reference.value
    value = (attack.value - reference.value) / left
    error = np.hypot(attack.error / left, reference.error * abs(attack.value - 1) / left**2)
    return Rate(float(value), float(error))


def _univariate(x: FloatArray, numeric: npt.NDArray[np.bool_]) -> _Predicates:
    columns, ops, values = [], [], []
    for j in range(x.shape[1]):
        keys = np.where(np.isnan(x[:, j]), np.inf, x[:, j])  # one key for null
        distinct, counts = np.unique(keys, return_counts=True)
        rare = distinct[counts == 1]
        columns.append(np.full(rare.size, j))
        ops.append(np.full(rare.size, EQ))
        values.append(np.where(np.isinf(rare), np.nan, rare))
        present = x[~np.isnan(x[:, j]), j]
        if numeric[j] and present.size:
            columns.append(np.array([j, j]))
            ops.append(np.array([LE, GE]))
            values.append(np.array([present.min(), present.max()]))
    column = np.concatenate(columns).astype(np.int64)[:, None]
    return _Predicates(column, np.concatenate(ops)[:, None], np.concatenate(values)[:, None])


def _multivariate(
    x: FloatArray, numeric: npt.NDArray[np.bool_], width: int, count: int, rng: np.random.Generator
) -> _Predicates:
    rows = rng.integers(0, len(x), size=count)
    column = _random_columns(x.shape[1], width, count, rng)
    value = x[rows[:, None], np.maximum(column, 0)]
    median = np.nanmedian(np.where(numeric, x, 0.0), axis=0)[np.maximum(column, 0)]
    ordered = numeric[np.maximum(column, 0)] & ~np.isnan(value)
    # Aim at the tail the row sits in: that is what isolates it.
    op = np.where(ordered, np.where(value <= median, LE, GE), EQ).astype(np.int64)
    return _Predicates(column, op, value)


def _random(
    x: FloatArray, numeric: npt.NDArray[np.bool_], like: _Predicates, rng: np.random.Generator
) -> _Predicates:
    """Baseline: same shapes as ``like``, values drawn from each column's distinct values."""
    column = _random_columns(x.shape[1], like.column.shape[1], len(like), rng)
    value = np.full(column.shape, np.nan)
    for j in range(x.shape[1]):
        where = column == j
        distinct = np.unique(np.where(np.isnan(x[:, j]), np.inf, x[:, j]))
        drawn = distinct[rng.integers(0, distinct.size, size=int(where.sum()))]
        value[where] = np.where(np.isinf(drawn), np.nan, drawn)
    return _Predicates(column, _random_ops(column, numeric, value, rng, equal=True), value)


def _random_columns(columns: int, width: int, count: int, rng: np.random.Generator) -> IntArray:
    """``count`` rows of ``width`` distinct columns; with width 3, a third use only two."""
    chosen = np.argsort(rng.random((count, columns)), axis=1)[:, :width].astype(np.int64)
    if width == 3:
        chosen[rng.random(count) < 1 / 3, 2] = -1
    return chosen


def _random_ops(
    column: IntArray,
    numeric: npt.NDArray[np.bool_],
    value: FloatArray,
    rng: np.random.Generator,
    *,
    equal: bool = False,
) -> IntArray:
    """``==`` for categories and nulls; for numbers ``<=`` or ``>=`` (or ``==`` if ``equal``)."""
    ordered = numeric[np.maximum(column, 0)] & ~np.isnan(value)
    ops = rng.choice([LE, GE, EQ] if equal else [LE, GE], size=column.shape)
    return np.where(ordered, ops, EQ).astype(np.int64)

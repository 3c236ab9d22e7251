"""Privacy: do synthetic rows sit closer to the real rows than unseen real rows do?

Rows live in one scaled space: numbers and datetimes divided by their real range (a null is
its own indicator, 1 away from any value), categories one-hot scaled so that two different
values are 1 apart; distances are Euclidean there divided by the square root of the column
count (0 = identical, ~1 = every column as far apart as it can be), found with scikit-learn's
brute-force nearest neighbours (BLAS: about a second for 10k x 10k rows on one core).

- distance to closest record (DCR): synthetic -> real against a real holdout -> real; a
  synthesizer that memorises has many synthetic rows closer than almost any holdout row;
- exact-copy rate: synthetic rows identical to a real row (holdout rows give the chance level);
- inference risk (the attack anonymeter calls inference, implemented here): knowing every other
  column of a real row, guess its secret (the target) from the nearest synthetic row; success
  on the real rows the synthesizer saw minus success on holdout rows, normalised:
  ``(s_real - s_holdout) / (1 - s_holdout)``, graded only when a one-sided two-proportion
  z-test says the difference is beyond chance (the normalisation magnifies noise when the
  control already succeeds often, as for a rare label);
- linkability risk (likewise): split the columns in two halves; a real row is linked when
  its nearest synthetic rows by each half share a row; normalised the same way;
- singling-out risk (univariate and multivariate): see ``synthetic.singling_out``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from synthetic.singling_out import SinglingOut, singling_out
from synthetic.tabular import Kind, as_labels, as_numbers

FloatArray = npt.NDArray[np.float64]
TOO_CLOSE_QUANTILE = 0.05
"""A synthetic row is "too close" when nearer a real row than 95% of holdout rows are."""
ATTACK_ROWS = 2000
LINK_NEIGHBOURS = 5
SIGNIFICANCE_Z = 1.645
"""One-sided 95%: an attack counts only when it beats the control beyond chance."""


@dataclass(frozen=True)
class Attack:
    """Success of one attack on the rows the synthesizer saw and on holdout (control) rows."""

    success_attacked: float
    success_control: float
    rows_attacked: int
    rows_control: int

    @property
    def risk(self) -> float:
        return normalised_risk(self.success_attacked, self.success_control)

    @property
    def significant(self) -> bool:
        """Two-proportion z-test: attacked rows succeed more often than control rows."""
        a, c = self.success_attacked, self.success_control
        pooled = (a * self.rows_attacked + c * self.rows_control) / (
            self.rows_attacked + self.rows_control
        )
        spread = np.sqrt(pooled * (1 - pooled) * (1 / self.rows_attacked + 1 / self.rows_control))
        return bool(a > c) if spread == 0 else bool((a - c) / spread >= SIGNIFICANCE_Z)

    @property
    def graded_risk(self) -> float:
        """The risk a verdict uses: 0 when the attack does not beat the control significantly."""
        return self.risk if self.significant else 0.0


@dataclass(frozen=True)
class Privacy:
    dcr_synthetic: FloatArray
    dcr_holdout: FloatArray
    exact_copy_rate: float
    holdout_copy_rate: float
    too_close_rate: float
    """Share of synthetic rows closer than the 5th percentile of holdout DCR (ideal: 0.05)."""
    inference: Attack | None
    linkability: Attack | None
    singling_out: list[SinglingOut]
    """Univariate and multivariate attacks (empty when no predicate singles out a row)."""

    @property
    def median_dcr_ratio(self) -> float:
        holdout = float(np.median(self.dcr_holdout))
        return float(np.median(self.dcr_synthetic)) / holdout if holdout > 0 else float("inf")


class ScaledSpace:
    """Rows as vectors in the scaled space of the module docstring."""

    def __init__(self, reference: pd.DataFrame, kinds: Mapping[str, Kind]) -> None:
        self.kinds = {c: k for c, k in kinds.items() if k != Kind.ID}
        self.scale: dict[str, tuple[float, float]] = {}
        self.levels: dict[str, list[str]] = {}
        for column, kind in self.kinds.items():
            if kind == Kind.CATEGORY:
                self.levels[column] = sorted(as_labels(reference[column]).unique())
            else:
                values = as_numbers(reference[column], kind)
                present = values[~np.isnan(values)]
                low, high = (float(present.min()), float(present.max())) if present.size else (0, 1)
                self.scale[column] = (low, (high - low) or 1.0)

    def encode(self, frame: pd.DataFrame, columns: list[str] | None = None) -> FloatArray:
        parts: list[FloatArray] = []
        for column in columns or list(self.kinds):
            if self.kinds[column] == Kind.CATEGORY:
                labels = as_labels(frame[column]).to_numpy()
                levels = np.asarray(self.levels[column], dtype=object)
                onehot = (labels[:, None] == levels[None, :]).astype(np.float64)
                parts.append(onehot * np.sqrt(0.5))
            else:
                low, span = self.scale[column]
                values = (as_numbers(frame[column], self.kinds[column]) - low) / span
                missing = np.isnan(values)
                parts.append(np.column_stack([np.where(missing, 0.0, values), missing * 1.0]))
        return np.column_stack(parts) if parts else np.zeros((len(frame), 0))

    def columns_count(self, columns: list[str] | None = None) -> int:
        return len(columns or self.kinds)


def nearest(
    reference: FloatArray, queries: FloatArray, *, k: int = 1
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Euclidean distances and indices of the ``k`` nearest reference rows of each query row."""
    model = NearestNeighbors(n_neighbors=k, metric="euclidean", algorithm="brute").fit(reference)
    distances, indices = model.kneighbors(queries)
    return distances, indices


def privacy(
    real: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, Kind],
    *,
    secret: str | None = None,
    seed: int = 0,
) -> Privacy:
    """DCR, exact copies, and the three attacks (see the module docstring)."""
    space = ScaledSpace(real, kinds)
    width = space.columns_count()
    reference = space.encode(real)
    encoded_synthetic, encoded_holdout = space.encode(synthetic), space.encode(holdout)
    dcr_synthetic = nearest(reference, encoded_synthetic)[0][:, 0] / np.sqrt(width)
    dcr_holdout = nearest(reference, encoded_holdout)[0][:, 0] / np.sqrt(width)
    threshold = float(np.quantile(dcr_holdout, TOO_CLOSE_QUANTILE))
    rng = np.random.default_rng(seed)
    attacked = real.iloc[_pick(rng, len(real), len(holdout))]
    control = holdout.iloc[_pick(rng, len(holdout), ATTACK_ROWS)]
    return Privacy(
        dcr_synthetic=dcr_synthetic,
        dcr_holdout=dcr_holdout,
        exact_copy_rate=copy_rate(reference, encoded_synthetic),
        holdout_copy_rate=copy_rate(reference, encoded_holdout),
        too_close_rate=float(np.mean(dcr_synthetic < threshold))
        if threshold > 0
        else float(np.mean(dcr_synthetic <= threshold)),
        inference=_inference(space, synthetic, attacked, control, secret),
        linkability=_linkability(space, synthetic, attacked, control),
        singling_out=singling_out(real, synthetic, kinds, holdout=holdout, seed=seed),
    )


def copy_rate(reference: FloatArray, queries: FloatArray) -> float:
    """Share of query rows equal, value for value, to some reference row."""
    seen = {row.tobytes() for row in np.ascontiguousarray(reference)}
    return float(np.mean([row.tobytes() in seen for row in np.ascontiguousarray(queries)]))


def normalised_risk(success_attacked: float, success_control: float) -> float:
    """Anonymeter's risk: attack success beyond the control's, as a share of what is left."""
    if success_control >= 1.0:
        return 0.0
    return float(np.clip((success_attacked - success_control) / (1 - success_control), 0, 1))


def _pick(rng: np.random.Generator, rows: int, limit: int) -> npt.NDArray[np.int64]:
    count = min(rows, limit, ATTACK_ROWS)
    return np.sort(rng.choice(rows, size=count, replace=False))


def _inference(
    space: ScaledSpace,
    synthetic: pd.DataFrame,
    attacked: pd.DataFrame,
    control: pd.DataFrame,
    secret: str | None,
) -> Attack | None:
    if secret is None or secret not in space.kinds:
        return None
    known = [c for c in space.kinds if c != secret]
    if not known:
        return None
    guesses = synthetic[secret].reset_index(drop=True)
    reference = space.encode(synthetic, known)

    def success(rows: pd.DataFrame) -> float:
        index = nearest(reference, space.encode(rows, known))[1][:, 0]
        guessed = as_labels(guesses.iloc[index]).to_numpy()
        truth = as_labels(rows[secret]).to_numpy()
        # Balanced over the secret's values, so that samples with different class mixes
        # (a rare label) compare fairly: guessing the majority value everywhere scores 1/k.
        return float(np.mean([np.mean(guessed[truth == v] == v) for v in np.unique(truth)]))

    return Attack(success(attacked), success(control), len(attacked), len(control))


def _linkability(
    space: ScaledSpace, synthetic: pd.DataFrame, attacked: pd.DataFrame, control: pd.DataFrame
) -> Attack | None:
    columns = list(space.kinds)
    if len(columns) < 2:
        return None
    halves = columns[: len(columns) // 2], columns[len(columns) // 2 :]
    k = min(LINK_NEIGHBOURS, len(synthetic))
    references = [space.encode(synthetic, half) for half in halves]

    def success(rows: pd.DataFrame) -> float:
        a, b = (
            nearest(ref, space.encode(rows, half), k=k)[1]
            for ref, half in zip(references, halves, strict=True)
        )
        linked = [bool(set(x) & set(y)) for x, y in zip(a, b, strict=True)]
        return float(np.mean(linked))

    return Attack(success(attacked), success(control), len(attacked), len(control))

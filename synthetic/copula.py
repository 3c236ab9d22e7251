"""A Gaussian-copula synthesizer for mixed tables, with numpy and scipy only.

Each column maps to a standard-normal latent through its own marginal: numbers and datetimes
(as epoch microseconds) through their empirical quantiles (ties broken at random so the latent
stays Gaussian), categories through frequency-ordered intervals of [0, 1). A column with nulls
gets a second latent: a null indicator. The latents' correlation matrix is the model. Sampling
draws correlated normals and maps each back through the inverse marginal; numbers are
interpolated between neighbouring real values, so they rarely repeat a real value exactly.

The fitted model stores every column's sorted real values: share the samples, not the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from keel.core.errors import InvalidInput
from synthetic.tabular import Kind, as_labels, column_kinds

FloatArray = npt.NDArray[np.float64]
_EPS = 1e-9
_MIN_EIGENVALUE = 1e-6
MAX_CLASSES = 50
MIN_CLASS_ROWS = 20


def _ndtri(u: FloatArray) -> FloatArray:
    out: FloatArray = special.ndtri(np.clip(u, _EPS, 1 - _EPS))
    return out


def _ndtr(z: FloatArray) -> FloatArray:
    out: FloatArray = special.ndtr(z)
    return out


@dataclass(frozen=True)
class _Marginal:
    """How one column maps to its latent(s) and back."""

    name: str
    kind: Kind
    dtype: Any
    null_rate: float
    sorted_values: FloatArray | None = None
    """Numbers and datetimes: the sorted non-null values."""
    categories: tuple[object, ...] = ()
    """Categories, most frequent first (None stands for null)."""
    cumulative: FloatArray | None = None
    integer: bool = False

    @property
    def latents(self) -> int:
        if self.kind == Kind.ID:
            return 0
        return 2 if self.kind != Kind.CATEGORY and self.null_rate > 0 else 1


class GaussianCopula:
    """Fit on a DataFrame, then sample any number of rows; same seed, same rows.

    With ``by`` (a column with at most ``MAX_CLASSES`` values, typically the label), one copula
    is fitted per value of that column and each samples its share of the rows: the joint
    distribution within each class (say, churners) is then kept, not only the pooled one.
    """

    def __init__(self, *, seed: int = 0, by: str | None = None) -> None:
        self.seed = seed
        self.by = by

    def fit(self, frame: pd.DataFrame, *, source: str = "table") -> GaussianCopula:
        """Learn the marginals and the latent correlation(s) of ``frame``."""
        kinds = column_kinds(frame, source=source)
        self.ids_ = [_fit_marginal(frame[c], str(c), k) for c, k in kinds.items() if k == Kind.ID]
        self.columns_ = list(frame.columns)
        if self.by is None:
            self.parts_ = [(1.0, _Copula([self.seed, 0]).fit(frame, kinds, source))]
            return self
        if self.by not in kinds or kinds[self.by] == Kind.ID:
            raise InvalidInput(f"{source}: no column {self.by!r} to condition on (by)")
        groups = frame.groupby(as_labels(frame[self.by]), sort=True)
        if groups.ngroups > MAX_CLASSES:
            raise InvalidInput(
                f"{source}: column {self.by!r} has {groups.ngroups} values; "
                f"conditioning (by) takes at most {MAX_CLASSES}"
            )
        self.parts_ = []
        for index, (value, part) in enumerate(groups):
            if len(part) < MIN_CLASS_ROWS:
                raise InvalidInput(
                    f"{source}: only {len(part)} rows have {self.by} = {value!r}; "
                    f"conditioning needs >= {MIN_CLASS_ROWS} per value (synthetic rows of so "
                    "few would sit next to real ones)"
                )
            model = _Copula([self.seed, 0, index]).fit(part, kinds, source)
            self.parts_.append((len(part) / len(frame), model))
        return self

    def sample(self, rows: int) -> pd.DataFrame:
        """Exactly ``rows`` synthetic rows with the fitted table's columns and dtypes."""
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValueError(f"rows must be an int >= 1, got {rows!r}")
        if not hasattr(self, "parts_"):
            raise ValueError("sample() before fit(): fit the synthesizer on a table first")
        rng = np.random.default_rng([self.seed, 2])
        counts = rng.multinomial(rows, [share for share, _ in self.parts_])
        frames = [
            model.sample(int(count), np.random.default_rng([self.seed, 3, index]))
            for index, ((_, model), count) in enumerate(zip(self.parts_, counts, strict=True))
            if count > 0
        ]
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        if len(frames) > 1:
            out = out.iloc[rng.permutation(rows)].reset_index(drop=True)
        for marginal in self.ids_:
            out[marginal.name] = _from_latent(marginal, None, rows)
        return out[self.columns_]


class _Copula:
    """One Gaussian copula over all columns of a table."""

    def __init__(self, seed: list[int]) -> None:
        self.seed = seed

    def fit(self, frame: pd.DataFrame, kinds: dict[str, Kind], source: str) -> _Copula:
        if len(frame) < 2:
            raise InvalidInput(f"{source}: needs at least 2 rows to fit, got {len(frame)}")
        rng = np.random.default_rng([*self.seed, 1])
        self.columns_ = list(frame.columns)
        self.marginals_ = [_fit_marginal(frame[c], str(c), kinds[str(c)]) for c in frame]
        latents = [
            z
            for m, c in zip(self.marginals_, frame, strict=True)
            for z in _to_latent(m, frame[c], rng)
        ]
        self.correlation_ = _correlation(np.column_stack(latents)) if latents else np.eye(0)
        return self

    def sample(self, rows: int, rng: np.random.Generator) -> pd.DataFrame:
        d = self.correlation_.shape[0]
        u = _ndtr(rng.standard_normal((rows, d)) @ _root(self.correlation_).T) if d else None
        out: dict[object, pd.Series] = {}
        position = 0
        for column, marginal in zip(self.columns_, self.marginals_, strict=True):
            block = None if u is None else u[:, position : position + marginal.latents]
            out[column] = _from_latent(marginal, block, rows)
            position += marginal.latents
        return pd.DataFrame(out)


def _numeric(values: pd.Series, kind: Kind) -> FloatArray:
    """Non-null values as float64 (datetimes as epoch microseconds)."""
    present = values.dropna()
    if kind == Kind.DATETIME:
        micros = present.astype("datetime64[us, UTC]" if present.dt.tz else "datetime64[us]")
        return np.asarray(micros.astype("int64"), dtype=np.float64)
    return np.asarray(present, dtype=np.float64)


def _fit_marginal(values: pd.Series, name: str, kind: Kind) -> _Marginal:
    null_rate = float(values.isna().mean())
    if kind == Kind.ID:
        return _Marginal(name, kind, values.dtype, null_rate)
    if kind == Kind.CATEGORY:
        counts = values.astype(object).where(values.notna(), None).value_counts(dropna=False)
        order = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        probabilities = np.array([count for _, count in order], dtype=np.float64)
        return _Marginal(
            name,
            kind,
            values.dtype,
            null_rate,
            categories=tuple(category for category, _ in order),
            cumulative=np.cumsum(probabilities / probabilities.sum()),
        )
    numbers = np.sort(_numeric(values, kind))
    integer = kind == Kind.DATETIME or pd.api.types.is_integer_dtype(values.dtype)
    return _Marginal(name, kind, values.dtype, null_rate, sorted_values=numbers, integer=integer)


def _interval_latent(
    codes: npt.NDArray[np.int64], cumulative: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """A uniform draw inside each code's interval of [0, 1), mapped to a standard normal."""
    upper = cumulative[codes]
    lower = np.where(codes > 0, cumulative[np.maximum(codes - 1, 0)], 0.0)
    return _ndtri(lower + rng.random(codes.size) * (upper - lower))


def _to_latent(
    marginal: _Marginal, values: pd.Series, rng: np.random.Generator
) -> list[FloatArray]:
    n = len(values)
    if marginal.kind == Kind.ID:
        return []
    if marginal.kind == Kind.CATEGORY:
        index = {category: code for code, category in enumerate(marginal.categories)}
        objects = values.astype(object).where(values.notna(), None)
        codes = np.fromiter((index[v] for v in objects), dtype=np.int64, count=n)
        assert marginal.cumulative is not None
        return [_interval_latent(codes, marginal.cumulative, rng)]
    present = values.notna().to_numpy()
    latent = rng.standard_normal(n)  # null rows: independent of everything
    numbers = _numeric(values, marginal.kind)
    if numbers.size:
        order = np.lexsort((rng.random(numbers.size), numbers))
        ranks = np.empty(numbers.size)
        ranks[order] = np.arange(numbers.size)
        latent[present] = _ndtri((ranks + 0.5) / numbers.size)
    if marginal.latents == 1:
        return [latent]
    cumulative = np.array([1.0 - marginal.null_rate, 1.0])
    return [latent, _interval_latent((~present).astype(np.int64), cumulative, rng)]


def _from_latent(marginal: _Marginal, u: FloatArray | None, rows: int) -> pd.Series:
    if marginal.kind == Kind.ID:
        ids = np.arange(1, rows + 1, dtype=np.int64)
        if pd.api.types.is_numeric_dtype(marginal.dtype):
            return pd.Series(ids).astype(marginal.dtype)
        return pd.Series([f"synthetic-{i}" for i in ids], dtype=marginal.dtype)
    assert u is not None
    if marginal.kind == Kind.CATEGORY:
        assert marginal.cumulative is not None
        codes = np.minimum(
            np.searchsorted(marginal.cumulative, u[:, 0], side="right"),
            len(marginal.categories) - 1,
        )
        values = pd.Series(np.asarray(marginal.categories, dtype=object)[codes])
        return _restore(values, marginal)
    values_sorted = marginal.sorted_values
    assert values_sorted is not None
    if values_sorted.size == 0:
        numbers = np.full(rows, np.nan)
    else:
        positions = u[:, 0] * (values_sorted.size - 1)
        numbers = np.interp(positions, np.arange(values_sorted.size), values_sorted)
        if marginal.integer:
            numbers = np.rint(numbers)
    if marginal.latents == 2:
        numbers = np.where(u[:, 1] >= 1.0 - marginal.null_rate, np.nan, numbers)
    return _restore_numbers(numbers, marginal)


def _restore(values: pd.Series, marginal: _Marginal) -> pd.Series:
    dtype = marginal.dtype
    if pd.api.types.is_bool_dtype(dtype) and values.notna().all():
        return values.astype(bool)
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or pd.api.types.is_bool_dtype(dtype):
        return values.astype(dtype)
    return values


def _restore_numbers(numbers: FloatArray, marginal: _Marginal) -> pd.Series:
    dtype = marginal.dtype
    missing = np.isnan(numbers)
    if marginal.kind == Kind.DATETIME:
        micros = np.where(missing, 0, numbers).astype(np.int64).view("datetime64[us]")
        series = pd.Series(micros).mask(missing)
        tz = getattr(dtype, "tz", None)
        return series.dt.tz_localize(tz) if tz is not None else series
    if pd.api.types.is_integer_dtype(dtype):
        integers = pd.Series(np.where(missing, 0, numbers).astype(np.int64))
        if missing.any() or isinstance(dtype, pd.api.extensions.ExtensionDtype):
            return integers.astype("Int64").mask(missing)
        return integers.astype(dtype)
    return pd.Series(numbers).astype(dtype)


def _correlation(latent: FloatArray) -> FloatArray:
    """Correlation of the latents, repaired to a valid (positive definite) correlation matrix."""
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.corrcoef(latent, rowvar=False)
    matrix = np.atleast_2d(np.nan_to_num(matrix, nan=0.0))
    np.fill_diagonal(matrix, 1.0)
    eigenvalues, vectors = np.linalg.eigh(matrix)
    repaired = (vectors * np.maximum(eigenvalues, _MIN_EIGENVALUE)) @ vectors.T
    scale = np.sqrt(np.diag(repaired))
    out: FloatArray = repaired / np.outer(scale, scale)
    return out


def _root(matrix: FloatArray) -> FloatArray:
    return np.asarray(np.linalg.cholesky(matrix), dtype=np.float64)

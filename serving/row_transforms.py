"""Row-wise twins of on-demand transforms for the hot path, trusted only once proven equal.

A pandas transform costs ~0.75-1.5 ms per call for one row; its twin costs microseconds. A Feast
repo declares its twins in `row_twins.py` beside its definitions: a `ROW_TWINS` dict from
on-demand view name to a function of one row (a dict of the view's inputs) returning a dict of
its outputs (the built-in example's: `feature_repo/row_twins.py`). At start-up each twin is
compared with the registry's own transform on probe rows (missing values and edge cases
included, drawn per input type); any difference, or any error, and serving keeps the registry's
transform. A view without a twin simply keeps its transform.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import numbers
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd
from feast.value_type import ValueType

logger = logging.getLogger(__name__)

RowTransform = Callable[[Mapping[str, object]], Mapping[str, object]]
PROBE_VALUES: tuple[object, ...] = tuple(
    dict.fromkeys((None, 0, 1, 3, 12, 1_700_000_000, 0.5, 2.5, 99.75, 1_000_000, *range(2, 25)))
)
"""Probes of numeric inputs (and of inputs of unknown type): every hour and small count (a twin
wrong on one of them shows), fractions, large values. Not negative: counts, prices and times
are not, and a twin may rightly divide by `count + 1`."""
TEXT_PROBES: tuple[object, ...] = (None, "", "a", "z-03", "c-0042", "downtown")
BOOL_PROBES: tuple[object, ...] = (None, False, True)
OTHER_PROBES: tuple[object, ...] = (None,)
MAX_PROBES = 2000
ROW_TWINS_FILE = "row_twins.py"
"""The file of a Feast repo that declares its views' row twins (`ROW_TWINS`)."""

_NUMERIC = {
    ValueType.INT32,
    ValueType.INT64,
    ValueType.FLOAT,
    ValueType.DOUBLE,
    ValueType.UNIX_TIMESTAMP,
    ValueType.UNKNOWN,
}


def probe_values(kind: ValueType) -> tuple[object, ...]:
    """What an input of Feast type `kind` is probed with."""
    if kind in _NUMERIC:
        return PROBE_VALUES
    if kind == ValueType.STRING:
        return TEXT_PROBES
    if kind == ValueType.BOOL:
        return BOOL_PROBES
    return OTHER_PROBES


def _same(a: object, b: object) -> bool:
    missing_a = a is None or (isinstance(a, float) and math.isnan(a))
    missing_b = b is None or (isinstance(b, float) and math.isnan(b))
    if missing_a or missing_b:
        return missing_a and missing_b
    numeric = (numbers.Number,)
    if isinstance(a, numeric) and isinstance(b, numeric):
        return bool(float(a) == float(b))  # type: ignore[arg-type]
    return a == b


def probe_rows(
    inputs: Sequence[str] | Mapping[str, ValueType], *, seed: int = 0
) -> list[dict[str, object]]:
    """Rows of missing, zero, small and large values (per input type when `inputs` maps names
    to Feast types): one row per probe position for every input, then random mixes (drawn per
    row, never the full product of values over inputs)."""
    kinds = (
        dict(inputs) if isinstance(inputs, Mapping) else dict.fromkeys(inputs, ValueType.UNKNOWN)
    )
    choices = {name: probe_values(kind) for name, kind in kinds.items()}
    rng = random.Random(seed)
    rows = [
        {name: values[i % len(values)] for name, values in choices.items()}
        for i in range(len(PROBE_VALUES))
    ]
    while len(rows) < MAX_PROBES:
        rows.append({name: rng.choice(values) for name, values in choices.items()})
    return rows


def repo_row_twins(repo: Path) -> dict[str, RowTransform]:
    """The row twins a Feast repo declares (`row_twins.py`'s `ROW_TWINS`); none when it has no
    such file. The file is imported on its own (not as part of a package); a file that does not
    import, or entries that are not a view name and a function, are left out with a warning:
    a twin only ever speeds a view up, so its absence never stops serving."""
    path = repo / ROW_TWINS_FILE
    if not path.is_file():
        return {}
    try:
        spec = importlib.util.spec_from_file_location(f"keel_row_twins_{uuid.uuid4().hex}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as error:
        logger.warning("%s does not import (%s): no row twins", path, error)
        return {}
    declared = getattr(module, "ROW_TWINS", None)
    if not isinstance(declared, Mapping):
        logger.warning("%s has no ROW_TWINS dict: no row twins", path)
        return {}
    twins: dict[str, RowTransform] = {}
    for name, twin in declared.items():
        if isinstance(name, str) and callable(twin):
            twins[name] = twin
        else:
            logger.warning(
                "%s: ROW_TWINS[%r] is not a view name and a function: left out", path, name
            )
    return twins


def verified_twin(
    name: str,
    transform: Callable[[pd.DataFrame], pd.DataFrame],
    inputs: Sequence[str] | Mapping[str, ValueType],
    twins: Mapping[str, RowTransform],
) -> RowTransform | None:
    """The twin of on-demand view `name` (from `twins`) if it reproduces `transform` exactly on
    probe rows, else None."""
    twin = twins.get(name)
    if twin is None:
        return None
    rows = probe_rows(inputs)
    try:
        expected = transform(pd.DataFrame(rows)).to_dict("records")
        for row, want in zip(rows, expected, strict=True):
            got = twin(row)
            if set(got) != set(want) or not all(_same(got[k], want[k]) for k in got):
                logger.warning(
                    "row twin of %s differs on %s: using the pandas transform", name, row
                )
                return None
    except Exception as error:  # a twin that cannot even run is simply not used
        logger.warning("row twin of %s failed (%s): using the pandas transform", name, error)
        return None
    return twin

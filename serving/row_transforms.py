"""Row-wise twins of on-demand transforms for the hot path, trusted only once proven equal.

A pandas transform costs ~1.5 ms per call for one row; its twin (declared in
`feature_repo.on_demand.ROW_TWINS`) costs microseconds. At start-up each twin is compared with
the registry's own transform on probe rows (missing values and edge cases included); any
difference, or any error, and serving keeps the registry's transform.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from feature_repo.on_demand import ROW_TWINS

logger = logging.getLogger(__name__)

RowTransform = Callable[[Mapping[str, object]], dict[str, float]]
PROBE_VALUES: tuple[object, ...] = (None, 0, 1, 3, 12, 1_700_000_000)
MAX_PROBES = 2000


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def probe_rows(inputs: Sequence[str], *, seed: int = 0) -> list[dict[str, object]]:
    """Rows of missing, zero, small and large values: one row per probe value for every input,
    then random mixes (drawn per row, never the full product of values over inputs)."""
    rng = random.Random(seed)
    rows = [dict.fromkeys(inputs, value) for value in PROBE_VALUES]
    while len(rows) < MAX_PROBES:
        rows.append({name: rng.choice(PROBE_VALUES) for name in inputs})
    return rows


def verified_twin(
    name: str, transform: Callable[[pd.DataFrame], pd.DataFrame], inputs: Sequence[str]
) -> RowTransform | None:
    """The twin of on-demand view `name` if it reproduces `transform` exactly, else None."""
    twin = ROW_TWINS.get(name)
    if twin is None:
        return None
    rows = probe_rows(inputs)
    try:
        expected = transform(pd.DataFrame(rows)).to_dict("records")
        for row, want in zip(rows, expected, strict=True):
            got = twin(row)
            if set(got) != set(want) or not all(_same(got[k], float(want[k])) for k in got):
                logger.warning(
                    "row twin of %s differs on %s: using the pandas transform", name, row
                )
                return None
    except Exception as error:  # a twin that cannot even run is simply not used
        logger.warning("row twin of %s failed (%s): using the pandas transform", name, error)
        return None
    return twin

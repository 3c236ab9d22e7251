"""Probe rows for checking a compiled scorer against its pipeline when a version loads.

Built from the pipeline alone (no data needed): every known category of each encoded column,
plus a missing one and one never seen; numbers spread over many magnitudes, signs, integers,
the imputers' fill values and the one-rule threshold, and missing ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

UNSEEN = "\x00keel-unseen-category"
PROBES = 256


def _encoders(step: Any) -> list[tuple[list[str], Any]]:
    """(columns, encoder) of every ordinal or one-hot encoder under a ColumnTransformer."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    found: list[tuple[list[str], Any]] = []
    if isinstance(step, ColumnTransformer):
        for _, transformer, columns in step.transformers_:
            inner = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else transformer
            if isinstance(inner, OrdinalEncoder | OneHotEncoder):
                found.append(([str(c) for c in columns], inner))
    return found


def _special_numbers(pipeline: Pipeline) -> list[float]:
    """Values the model treats specially: a one-rule threshold, imputers' fill values."""
    values: list[float] = []
    for _, step in pipeline.steps:
        threshold = getattr(step, "threshold_", None)
        direction = getattr(step, "direction_", 1)
        if threshold is not None:
            values += [direction * threshold, np.nextafter(direction * threshold, np.inf)]
        if hasattr(step, "fill_"):
            values.append(float(step.fill_))
    return [float(v) for v in values if np.isfinite(v)]


def probe_rows(pipeline: Pipeline, columns: Sequence[str], n: int = PROBES) -> list[dict[str, Any]]:
    """`n` rows over `columns`, deterministic for a given pipeline."""
    rng = np.random.default_rng(20_240_917)
    categories: dict[str, list[Any]] = {}
    for names, encoder in _encoders(pipeline.steps[0][1]):
        for name, known in zip(names, encoder.categories_, strict=True):
            categories[name] = [*known.tolist(), None, UNSEEN]
    special = _special_numbers(pipeline)
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for name in columns:
        if name in categories:
            choices = categories[name]
            picks = [choices[i % len(choices)] for i in rng.permutation(n)]
        else:
            magnitude = np.exp(rng.normal(1.0, 2.5, n)) * rng.choice([-1.0, 1.0], n, p=[0.2, 0.8])
            number = np.where(rng.random(n) < 0.4, np.round(magnitude), magnitude)
            number[rng.random(n) < 0.1] = 0.0
            if special:
                chosen = rng.random(n) < 0.15
                number[chosen] = rng.choice(special, int(chosen.sum()))
            gone = rng.random(n) < 0.1
            picks = [None if g else float(v) for v, g in zip(number, gone, strict=True)]
        for row, value in zip(rows, picks, strict=True):
            row[name] = value
    return rows

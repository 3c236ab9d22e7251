"""Rows of features (name -> value, None where absent) as NumPy arrays, without pandas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Rows = Sequence[dict[str, Any]]


def missing(value: Any) -> bool:
    """None or a float NaN: what the pipelines' imputers and trees treat as absent."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def numeric_matrix(rows: Rows, columns: Sequence[str]) -> np.ndarray:
    """Float64 (rows x columns), NaN where a value is missing."""
    return np.array(
        [[np.nan if (v := row.get(n)) is None else v for n in columns] for row in rows],
        dtype=float,
    ).reshape(len(rows), len(columns))


def numeric_column(rows: Rows, column: str) -> np.ndarray:
    """One column as float64, NaN where missing."""
    return np.array([np.nan if (v := row.get(column)) is None else v for row in rows], dtype=float)

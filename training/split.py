"""Splits by time: train on earlier snapshots, validate and test on later ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from training.labels import TIMESTAMP

if TYPE_CHECKING:
    from keel.core.project import Split


@dataclass(frozen=True)
class TimeSplit:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def split_by_time(frame: pd.DataFrame) -> TimeSplit:
    """The last snapshot is the test set, the one before it validation, the rest training."""
    times = sorted(frame[TIMESTAMP].unique())
    if len(times) < 3:
        raise ValueError(
            f"a time split needs at least 3 snapshot times, got {len(times)}: "
            "generate more days (for example --days 180)"
        )
    valid_at, test_at = times[-2], times[-1]
    return TimeSplit(
        train=frame[frame[TIMESTAMP] < valid_at],
        valid=frame[frame[TIMESTAMP] == valid_at],
        test=frame[frame[TIMESTAMP] == test_at],
    )


def split_by_fractions(
    frame: pd.DataFrame, *, timestamp: str, train: float, valid: float
) -> TimeSplit:
    """The earliest `train` fraction of rows trains, the next `valid` validates, the rest tests.

    Rows sharing a timestamp stay in one set (a boundary moves back to the first of them), so no
    row of a later set is older than a row of an earlier one.
    """
    ordered = frame.sort_values(timestamp, kind="stable", ignore_index=True)
    times = ordered[timestamp].to_numpy()
    n = len(ordered)

    def cut(fraction: float) -> int:
        at = min(round(n * fraction), n - 1)
        return int(np.searchsorted(times, times[at], side="left"))

    first, second = cut(train), cut(train + valid)
    parts = TimeSplit(
        train=ordered.iloc[:first], valid=ordered.iloc[first:second], test=ordered.iloc[second:]
    )
    sizes = {"train": len(parts.train), "valid": len(parts.valid), "test": len(parts.test)}
    empty = [name for name, size in sizes.items() if size == 0]
    if empty:
        raise ValueError(
            f"the time split leaves {' and '.join(empty)} empty ({n} rows, "
            f"{len(np.unique(times))} distinct times): more rows or other split fractions needed"
        )
    return parts


def split_as_declared(frame: pd.DataFrame, split: Split) -> TimeSplit:
    """`frame` (timestamps in `event_timestamp`) split as a model's `split` declares: by
    snapshot (`split_by_time`) or by fractions of rows (`split_by_fractions`)."""
    if split.by == "snapshots":
        return split_by_time(frame)
    return split_by_fractions(frame, timestamp=TIMESTAMP, train=split.train, valid=split.valid)


def shuffle_training_labels(split: TimeSplit, *, seed: int, label: str) -> TimeSplit:
    """The same split with the training labels permuted (validation and test stay real)."""
    rng = np.random.default_rng(seed)
    train = split.train.copy()
    train[label] = rng.permutation(train[label].to_numpy())
    return TimeSplit(train=train, valid=split.valid, test=split.test)

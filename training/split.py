"""Splits by time: train on earlier snapshots, validate and test on later ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.labels import LABEL, TIMESTAMP


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


def shuffle_training_labels(split: TimeSplit, *, seed: int) -> TimeSplit:
    """The same split with the training labels permuted (validation and test stay real)."""
    rng = np.random.default_rng(seed)
    train = split.train.copy()
    train[LABEL] = rng.permutation(train[LABEL].to_numpy())
    return TimeSplit(train=train, valid=split.valid, test=split.test)

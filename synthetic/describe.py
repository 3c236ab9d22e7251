"""What a generated data set holds: row counts, label rates, per-column stats and null rates.

The label rate is given two ways: the share of customers with a churn event in the window (raw
``churn_events``), and the rate of the labels training uses (``synthetic.churn_labels``
snapshots with the default ``SnapshotPlan``: churn within 30 days of a snapshot every 30 days).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from keel.core.errors import InvalidInput, WorkspaceNotReady
from synthetic.churn import TABLE_NAMES
from synthetic.churn_labels import LABEL, SnapshotPlan, label_snapshots, snapshot_times
from synthetic.tabular import read_table


@dataclass(frozen=True)
class ColumnStats:
    """One column's summary; numeric stats are None for non-numeric columns."""

    table: str
    column: str
    dtype: str
    nulls: int
    null_rate: float
    distinct: int
    minimum: str | None
    maximum: str | None
    mean: float | None
    top: str | None
    """Most frequent value of a text column, with its count."""


@dataclass(frozen=True)
class LabelSummary:
    customers: int
    churned_in_window: int
    snapshot_rows: int
    snapshot_positives: int

    @property
    def churned_share(self) -> float:
        return self.churned_in_window / self.customers if self.customers else 0.0

    @property
    def snapshot_label_rate(self) -> float:
        return self.snapshot_positives / self.snapshot_rows if self.snapshot_rows else 0.0


@dataclass(frozen=True)
class Description:
    rows: dict[str, int]
    labels: LabelSummary | None
    """None when the window is too short for one labelled snapshot."""
    columns: list[ColumnStats]


def describe_tables(tables: Mapping[str, pd.DataFrame]) -> Description:
    """Describe the raw tables (``customers``, ``activity``, ``tickets``, ``churn_events``)."""
    columns = [
        column_stats(name, column, frame[column])
        for name, frame in tables.items()
        for column in frame.columns
    ]
    return Description(
        rows={name: len(frame) for name, frame in tables.items()},
        labels=_labels(tables),
        columns=columns,
    )


def describe_directory(raw_dir: Path) -> Description:
    """Read ``<table>.parquet`` for each raw table in ``raw_dir`` and describe them."""
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        path = Path(raw_dir) / f"{name}.parquet"
        if not path.exists():
            raise WorkspaceNotReady(f"{path} is missing: run `keel data generate` first")
        try:
            tables[name] = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for a corrupt file
            raise InvalidInput(f"{path}: not a readable Parquet file ({error})") from None
    return describe_tables(tables)


def describe_file(path: Path) -> Description:
    """Describe one Parquet table (a real or synthetic table): its rows and every column.

    A missing, unreadable or empty file is an ``InvalidInput`` naming it."""
    frame = read_table(path)
    name = Path(path).stem
    return Description(
        rows={name: len(frame)},
        labels=None,
        columns=[column_stats(name, str(column), frame[column]) for column in frame.columns],
    )


def column_stats(table: str, column: str, values: pd.Series) -> ColumnStats:
    """Counts and range of one column (datetimes as ISO strings, numbers with their mean)."""
    nulls = int(values.isna().sum())
    present = values.dropna()
    minimum = maximum = top = None
    mean = None
    is_number = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if len(present) and (is_number or pd.api.types.is_datetime64_any_dtype(values)):
        minimum, maximum = str(present.min()), str(present.max())
        if is_number:
            mean = float(present.astype("float64").mean())
    elif len(present):
        counts = present.astype(str).value_counts()
        top = f"{counts.index[0]} ({int(counts.iloc[0]):,})"
    return ColumnStats(
        table=table,
        column=column,
        dtype=str(values.dtype),
        nulls=nulls,
        null_rate=nulls / len(values) if len(values) else 0.0,
        distinct=int(present.nunique()),
        minimum=minimum,
        maximum=maximum,
        mean=mean,
        top=top,
    )


def _labels(tables: Mapping[str, pd.DataFrame]) -> LabelSummary | None:
    if not {"customers", "churn_events", "activity"} <= set(tables):
        return None
    customers, events = tables["customers"], tables["churn_events"]
    days = tables["activity"]["activity_date"]
    rows = positives = 0
    if len(days):
        plan = SnapshotPlan()
        times = snapshot_times(days.min(), days.max() + pd.Timedelta(days=1), plan)
        if times:
            snapshots = label_snapshots(customers, events, times, horizon_days=plan.horizon_days)
            rows, positives = len(snapshots), int(snapshots[LABEL].sum())
    return LabelSummary(
        customers=len(customers),
        churned_in_window=int(customers["customer_id"].isin(events["customer_id"]).sum()),
        snapshot_rows=rows,
        snapshot_positives=positives,
    )

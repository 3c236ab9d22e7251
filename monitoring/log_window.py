"""A current window straight from the prediction log: `--current log:7d` (or `log:24h`).

The log is exported with serving's own export (same columns as `keel predictions export`, one
model's rows when a model is named) and cut to the rows created within the window, so drift can
run from cron without a manual export. `log:all` is the whole log.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from keel.core.errors import InvalidInput
from keel.core.settings import Settings

PATTERN = re.compile(r"^log:(\d+)([dh])$")
WHOLE_LOG = "log:all"
UNITS = {"d": "days", "h": "hours"}


def parse_log_window(spec: str) -> timedelta | None:
    """`log:7d` -> 7 days, `log:24h` -> 24 hours, `log:all` -> `timedelta.max`; None for
    anything not starting with `log:`."""
    if not spec.startswith("log:"):
        return None
    if spec == WHOLE_LOG:
        return timedelta.max
    match = PATTERN.match(spec)
    if not match or int(match.group(1)) < 1:
        raise InvalidInput(f"{spec!r}: expected log:<N>d, log:<N>h or log:all, e.g. log:7d")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def export_log_window(
    settings: Settings,
    window: timedelta,
    out: Path,
    *,
    now: datetime | None = None,
    model: str | None = None,
) -> int:
    """Write the log's rows of the last `window` (of `model` only, when given) to `out`;
    returns the row count."""
    from serving.log_export import export_parquet
    from serving.prediction_log import open_prediction_log

    log = open_prediction_log(settings)
    try:
        everything = out.with_name(f"{out.stem}.all.parquet")
        export_parquet(log, everything, model=model)
    finally:
        log.close()
    table = pq.read_table(everything)
    whose = f" of model {model}" if model else ""
    if window == timedelta.max:
        recent = table
        if recent.num_rows == 0:
            raise InvalidInput(f"the prediction log has no rows{whose}")
    else:
        since = (now or datetime.now(UTC)) - window
        recent = table.filter(pc.greater_equal(table["created_at"], since))
        if recent.num_rows == 0:
            raise InvalidInput(
                f"the prediction log has no rows{whose} in the last {_spoken(window)}"
            )
    pq.write_table(recent, out)
    everything.unlink()
    return recent.num_rows


def resolve_current(
    settings: Settings, current: str, scratch: Path, *, model: str | None = None
) -> Path:
    """The Parquet file a `--current` value names: a path, or a log window (of `model` only,
    when given) exported to `scratch`."""
    window = parse_log_window(current)
    if window is None:
        return Path(current)
    out = scratch / f"window{len(list(scratch.iterdir()))}.parquet"
    export_log_window(settings, window, out, model=model)
    return out


def _spoken(window: timedelta) -> str:
    """`7 days`, `24 hours`, `90 minutes`: a window as people say it."""
    seconds = int(window.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"

"""Public facade: generate seeded synthetic churn data and write it as Parquet.

The data come from a hidden day-by-day process (see ``synthetic.simulation`` and
``synthetic.risk``); only the raw tables a real business would have are exposed.

A customer is active on every day from the signup day through the churn day inclusive
(``churned_at`` falls later on that day; tickets on it open before ``churned_at``, tickets on
the signup day open after ``signup_at``). Activity rows exist for every active day in the
window, zeros included. All timestamps are ``datetime64[us, UTC]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from keel.core.atomic_files import atomic_path
from synthetic.config import GeneratorConfig
from synthetic.customers import draw_customers
from synthetic.scenario_effects import apply_scenarios, simulation_config
from synthetic.scenarios import parse_scenarios
from synthetic.simulation import simulate
from synthetic.tables import RawTables, build_tables

__all__ = [
    "TABLE_NAMES",
    "GeneratorConfig",
    "RawTables",
    "generate",
    "write_atomically",
    "write_raw_tables",
]

TABLE_NAMES = ("customers", "activity", "tickets", "churn_events")


def generate(config: GeneratorConfig) -> RawTables:
    """Simulate ``config.days`` days for ``config.customers`` customers; same config, same data.

    Scenarios perturb the baseline of the same seed (see ``synthetic.scenarios``); without
    any, the tables are exactly the baseline.
    """
    scenarios = parse_scenarios(config.scenarios)
    base = simulation_config(config, scenarios)
    rng = np.random.default_rng(config.seed)
    customers = draw_customers(rng, base)
    sim = simulate(rng, base, customers)
    tables = build_tables(rng, base, customers, sim)
    return apply_scenarios(tables, config, scenarios) if scenarios else tables


def write_raw_tables(tables: RawTables, directory: Path) -> dict[str, Path]:
    """Write ``<name>.parquet`` for each table into ``directory`` (created if missing).

    Each file is written to a temporary file in the same directory and then renamed over the
    target, so readers never see a half-written file. Output is byte-identical for identical
    tables: pyarrow embeds no wall-clock time.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in TABLE_NAMES:
        table = pa.Table.from_pandas(getattr(tables, name), preserve_index=False)
        target = directory / f"{name}.parquet"
        write_atomically(table, target)
        written[name] = target
    return written


def write_atomically(table: pa.Table, target: Path) -> None:
    """Write ``table`` as zstd Parquet to ``target`` atomically (see `keel.core.atomic_files`)."""
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")

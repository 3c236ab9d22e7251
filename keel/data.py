"""`keel data generate`: synthetic raw tables, then the feature tables Feast reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from keel.feature_pipeline import FeatureTables, build_feature_tables
from keel.provenance import write_manifest
from keel.settings import Settings
from keel.workspace import Workspace
from synthetic.churn import GeneratorConfig, generate, write_raw_tables


@dataclass(frozen=True)
class DataSummary:
    config: GeneratorConfig
    raw_rows: dict[str, int]
    feature_tables: FeatureTables


def generate_dataset(
    settings: Settings,
    *,
    customers: int = 5000,
    days: int = 180,
    seed: int = 42,
    churn_rate: float = 0.05,
    end: date | None = None,
) -> DataSummary:
    """Generate raw tables into the workspace and derive the feature tables from them."""
    config = GeneratorConfig(
        customers=customers,
        days=days,
        seed=seed,
        churn_rate=churn_rate,
        end=end or datetime.now(UTC).date(),
    )
    workspace = Workspace.from_settings(settings).ensure()
    tables = generate(config)
    write_raw_tables(tables, workspace.raw_dir)
    raw_rows = {
        "customers": len(tables.customers),
        "activity": len(tables.activity),
        "tickets": len(tables.tickets),
        "churn_events": len(tables.churn_events),
    }
    write_manifest(workspace.raw_dir, {**asdict(config), "rows": raw_rows})
    feature_tables = build_feature_tables(workspace.raw_dir, workspace.features_dir)
    return DataSummary(config=config, raw_rows=raw_rows, feature_tables=feature_tables)

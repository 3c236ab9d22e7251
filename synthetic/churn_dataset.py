"""The data stage: generate synthetic raw tables and features, build the real table, log reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from keel.core.provenance import write_manifest
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from synthetic.churn import GeneratorConfig, generate, write_raw_tables
from synthetic.churn_features import FeatureTables, build_feature_tables
from synthetic.churn_labels import SnapshotPlan
from synthetic.real_table import RealTables, churn_table, latest_snapshot, split_holdout
from synthetic.tabular import write_table

if TYPE_CHECKING:
    from synthetic.lab import ReportResult
    from synthetic.model_table import ModelTable

HOLDOUT_SHARE = 0.2
HOLDOUT_SEED = 0
"""The split `keel data synthesize --model` fits on and `keel data report --model` holds out."""


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
    scenarios: tuple[str, ...] = (),
) -> DataSummary:
    """Generate raw tables into the workspace and derive the feature tables from them.

    ``scenarios`` come from the catalogue in ``synthetic.scenarios`` (drift, missing data,
    label noise, imbalance, biased sampling); they are recorded in the manifest.
    """
    config = GeneratorConfig(
        customers=customers,
        days=days,
        seed=seed,
        churn_rate=churn_rate,
        end=end or datetime.now(UTC).date(),
        scenarios=tuple(scenarios),
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


def write_real_table(
    settings: Settings, *, out: Path, holdout_out: Path | None, holdout_share: float, seed: int
) -> RealTables:
    """The workspace's labelled one-row-per-customer table (and its holdout) as Parquet.

    See ``synthetic.real_table``: features as of the latest snapshot plus the label. The
    holdout (a random ``holdout_share`` of the customers) is for ``keel data report
    --holdout``; without ``holdout_out`` every row goes into ``out``.
    """
    workspace = Workspace.from_settings(settings)
    frame = churn_table(workspace.raw_dir, workspace.features_dir)
    if holdout_out is None:
        real, holdout = frame, frame.iloc[:0]
    else:
        real, holdout = split_holdout(frame, share=holdout_share, seed=seed)
        write_table(holdout, holdout_out)
    write_table(real, out)
    snapshot = latest_snapshot(workspace.raw_dir, SnapshotPlan())
    return RealTables(real=real, holdout=holdout, snapshot=snapshot)


@dataclass(frozen=True)
class ModelRealTables:
    """A model's labelled table split into the part to synthesize from and its holdout."""

    table: ModelTable
    real: pd.DataFrame
    holdout: pd.DataFrame


def model_real_tables(
    settings: Settings,
    model_ref: str,
    *,
    holdout_share: float | None = HOLDOUT_SHARE,
    seed: int = HOLDOUT_SEED,
) -> ModelRealTables:
    """The training frame of the version `model_ref` names (`synthetic.model_table`), split
    into real rows and a holdout (none when `holdout_share` is None)."""
    from synthetic.model_table import model_table

    table = model_table(settings, model_ref)
    if holdout_share is None:
        return ModelRealTables(table=table, real=table.frame, holdout=table.frame.iloc[:0])
    real, holdout = split_holdout(table.frame, share=holdout_share, seed=seed)
    return ModelRealTables(table=table, real=real, holdout=holdout)


def write_model_real_table(
    settings: Settings,
    model_ref: str,
    *,
    out: Path,
    holdout_out: Path | None,
    holdout_share: float,
    seed: int,
) -> ModelRealTables:
    """`write_real_table` for any registered model: its features and label as Parquet (and
    the holdout when `holdout_out` is given)."""
    tables = model_real_tables(
        settings, model_ref, holdout_share=holdout_share if holdout_out else None, seed=seed
    )
    if holdout_out is not None:
        write_table(tables.holdout, holdout_out)
    write_table(tables.real, out)
    return tables


def log_report_to_mlflow(
    settings: Settings, result: ReportResult, *, real: Path | str, synthetic: Path
) -> str:
    """Log the report's metrics, verdicts and HTML page as an MLflow run; returns its id."""
    from registry.client import ensure_experiment, mlflow_client

    client = mlflow_client(settings)
    experiment_id = ensure_experiment(settings, client, f"{settings.project}-synthetic-data")
    report = result.report
    run = client.create_run(experiment_id, run_name=f"report {synthetic.name}")
    run_id = str(run.info.run_id)
    params: dict[str, object] = {
        "real": real,
        "synthetic": synthetic,
        "holdout_given": report.holdout_given,
    }
    params.update({f"rows.{name}": count for name, count in report.rows.items()})
    for key, value in params.items():
        client.log_param(run_id, key, str(value))
    for key, value in report.metrics().items():
        client.log_metric(run_id, key, float(value))
    client.set_tag(run_id, "verdict", report.verdict)
    for section in report.sections:
        client.set_tag(run_id, f"verdict.{section.name}", section.verdict)
    client.log_artifact(run_id, str(result.out))
    client.set_terminated(run_id)
    return run_id

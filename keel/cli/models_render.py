"""Rich renderings of the registry's results for `keel models …` (the library never prints)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.table import Table

from registry.registry_reads import TASK_METRICS

if TYPE_CHECKING:  # only the types: `keel models list` must not import MLflow or pandas
    from registry.aliases import AliasMove
    from registry.compare import Comparison
    from registry.lineage import Lineage
    from registry.registry_reads import ModelSummary, VersionSummary


def _gate(gate: str | None) -> str:
    if gate == "passed":
        return "[green]passed[/]"
    if gate == "failed":
        return "[red]failed[/]"
    return "[dim]-[/]"


def _metric(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def shown_metrics(versions: Iterable[VersionSummary]) -> list[str]:
    """The metric columns for these versions: each task's headline metrics, for the tasks
    present (binary first), so a registry of classifiers shows no empty regression columns."""
    tasks = {v.task for v in versions}
    return [m for task, metrics in TASK_METRICS.items() if task in tasks for m in metrics]


def versions_table(models: Iterable[ModelSummary], *, title: str = "Registered models") -> Table:
    """One row per version: aliases, its task's headline test metrics, gate, created time,
    source run (a version of another task shows `-` in a column that is not its own)."""
    models = list(models)
    metrics = shown_metrics(v for m in models for v in m.versions) or list(TASK_METRICS["binary"])
    table = Table(title=title, show_header=True)
    for column in ("model", "version", "aliases", *metrics, "gate", "created", "run"):
        numeric = column in (*metrics, "version")
        table.add_column(column, justify="right" if numeric else "left")
    for model in models:
        for v in model.versions:
            table.add_row(
                v.name,
                str(v.version),
                ", ".join(v.aliases),
                *(_metric(v.metrics.get(m)) for m in metrics),
                _gate(v.gate),
                v.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                v.run_id or "",
            )
    return table


def version_table(version: VersionSummary) -> Table:
    """The fields of one version, then its tags."""
    table = Table(title=f"{version.name}/{version.version}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = {
        "aliases": ", ".join(version.aliases) or "-",
        "gate": f"{_gate(version.gate)} {version.gate_reason or ''}",
        "created": version.created_at.isoformat(),
        "status": version.status,
        "run": version.run_id or "-",
        "source": version.source,
        "task": version.task,
        **{f"test {m}": _metric(version.metrics.get(m)) for m in version.headline_metrics},
        **{f"tag {k}": v for k, v in sorted(version.tags.items())},
    }
    for key, value in rows.items():
        table.add_row(key, value)
    return table


def history_table(moves: list[AliasMove], *, title: str) -> Table:
    table = Table(title=title, show_header=True)
    for column in ("#", "moved at (UTC)", "alias", "from", "to", "action", "actor", "reason"):
        table.add_column(column)
    for move in moves:
        action = move.action + (" [red](forced)[/]" if move.forced else "")
        table.add_row(
            str(move.id),
            move.moved_at.strftime("%Y-%m-%d %H:%M:%S"),
            move.alias,
            "-" if move.from_version is None else str(move.from_version),
            str(move.to_version),
            action,
            move.actor,
            move.reason,
        )
    return table


def comparison_table(comparison: Comparison) -> Table:
    table = Table(
        title=(
            f"Held-out snapshot {comparison.snapshot_at}: {comparison.rows:,} rows, "
            f"positive rate {comparison.positive_rate:.2%}"
        ),
        show_header=True,
    )
    table.add_column("metric")
    for label in comparison.labels:
        table.add_column(label, justify="right")
    metrics = comparison.metrics[comparison.labels[0]].keys()
    for metric in metrics:
        table.add_row(
            metric, *(_metric(comparison.metrics[lb][metric]) for lb in comparison.labels)
        )
    return table


def lineage_table(lineage: Lineage) -> Table:
    table = Table(title=f"Lineage of {lineage.name}/{lineage.version}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    changed = {True: " [red](changed since training)[/]", False: " (unchanged)", None: ""}
    rows: list[tuple[str, str]] = [
        ("model run", lineage.model_run_id or "-"),
        ("training run", f"{lineage.training_run_id} (experiment {lineage.experiment_id})"),
        ("source", lineage.source),
        ("feature service", lineage.feature_service or "-"),
        ("definitions hash", lineage.feature_definitions_hash or "[dim]not recorded[/]"),
        (
            "current definitions",
            (lineage.current_definitions_hash or "-") + changed[lineage.definitions_changed],
        ),
        ("code commit", lineage.code_commit or "-"),
        ("gate", f"{_gate(lineage.gate)} {lineage.gate_reason or ''}"),
    ]
    for dataset in lineage.datasets:
        rows.append((f"dataset {dataset.name}", f"digest {dataset.digest}, {dataset.rows} rows"))
        rows.append(("  location", dataset.artifact_uri or dataset.source))
    rows += [(f"param {k}", v) for k, v in sorted(lineage.training_params.items())]
    rows += [(f"model param {k}", v) for k, v in sorted(lineage.model_params.items())]
    for key, value in rows:
        table.add_row(key, value)
    return table

"""`keel models list|show` shows each task's own test metrics: PR AUC and friends for binary
versions, MAE, RMSE and R² for regression ones, never a column of dashes for a task not there."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from keel.cli.models_render import shown_metrics, version_table, versions_table
from registry.registry_reads import ModelSummary, VersionSummary


def version(name: str, task: str | None, metrics: dict[str, float]) -> VersionSummary:
    return VersionSummary(
        name=name,
        version=1,
        aliases=["champion"],
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        run_id="r1",
        source="models:/m-1",
        status="READY",
        gate="passed",
        gate_reason="ok",
        metrics=metrics,
        tags={} if task is None else {"keel.task": task},
    )


def render(table: object) -> str:
    out = io.StringIO()
    Console(file=out, width=250, color_system=None).print(table)
    return out.getvalue()


ETA = version("delivery_minutes", "regression", {"mae": 4.25, "rmse": 5.5, "r2": 0.61})
CHURN = version("churn", None, {"pr_auc": 0.41, "roc_auc": 0.8, "brier": 0.1, "log_loss": 0.3})


def test_a_version_without_a_task_tag_is_binary() -> None:
    assert CHURN.task == "binary"
    assert ETA.task == "regression"
    assert ETA.as_dict()["task"] == "regression"


def test_list_shows_regression_metrics_for_a_regression_model() -> None:
    text = render(versions_table([ModelSummary("delivery_minutes", "", {"champion": 1}, [ETA])]))
    assert shown_metrics([ETA]) == ["mae", "rmse", "r2"]
    for shown in ("mae", "rmse", "r2", "4.2500", "5.5000", "0.6100"):
        assert shown in text
    assert "pr_auc" not in text


def test_list_of_both_tasks_has_both_sets_of_columns() -> None:
    models = [
        ModelSummary("churn", "", {"champion": 1}, [CHURN]),
        ModelSummary("delivery_minutes", "", {"champion": 1}, [ETA]),
    ]
    text = render(versions_table(models))
    header = next(line for line in text.splitlines() if "model" in line and "version" in line)
    assert header.index("pr_auc") < header.index("log_loss") < header.index("mae")
    assert "0.4100" in text and "4.2500" in text


def test_show_gives_the_versions_task_and_its_metrics() -> None:
    text = render(version_table(ETA))
    assert "task" in text and "regression" in text
    assert "test mae" in text and "test r2" in text
    assert "test pr_auc" not in text
    assert "test pr_auc" in render(version_table(CHURN))

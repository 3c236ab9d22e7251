"""Rich rendering of a prediction's trace."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from serving.trace import PredictionTrace


def trace_table(trace: PredictionTrace) -> Table:
    data = trace.as_dict()
    model = data["model"]
    table = Table(title=f"Prediction {data['prediction_id']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows: list[tuple[str, str]] = [
        ("created at", data["created_at"]),
        ("entity", ", ".join(f"{k}={json.dumps(v)}" for k, v in data["entity"].items())),
        ("task", data["task"]),
        ("model", f"{model['name']}/{model['version']} (alias {model['alias'] or '-'})"),
        ("served by", model["served_by"]),
        ("model run", data["run_id"]),
        ("training run", data["training_run_id"] or "-"),
    ]
    rows += [
        (f"dataset {d['name']}", f"digest {d['digest']} ({d['context'] or '-'}, {d['rows']} rows)")
        for d in data["datasets"]
    ]
    feedback = data["feedback"]
    rows += [
        ("feature service", data["feature_service"] or "-"),
        ("definitions hash", data["feature_definitions_hash"] or "-"),
        ("model code commit", data["model_code_commit"] or "-"),
        ("serving code commit", data["serving_code_commit"]),
        *_outputs(data),
        (
            "feedback",
            f"outcome {feedback['outcome']} observed {feedback['observed_at']}"
            if feedback
            else "-",
        ),
    ]
    if data["lineage_error"]:
        rows.append(("lineage", f"[red]{data['lineage_error']}[/]"))
    if data["violations"]:
        rows.append(("violations", ", ".join(data["violations"])))
    rows += [(f"feature {k}", json.dumps(v)) for k, v in sorted(data["features"].items())]
    for key, value in rows:
        table.add_row(key, value)
    return table


def _outputs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Binary: the probability and the label; regression: the prediction."""
    if data["task"] == "binary":
        return [("probability", f"{data['score']:.6f}"), ("label", str(data["label"]))]
    return [("prediction", f"{data['score']:.6g}")]

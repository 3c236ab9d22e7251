"""Quick commands stay quick and piped output stays plain (issue #15, items 3 and 4).

Each quick command runs in a fresh interpreter on the session's journey workspace, which then
reports the heavy libraries it imported: importing Feast, MLflow, scikit-learn or pandas costs
seconds, so a quick command must not. Piped runs of commands that drive Feast and MLflow must
carry no escape codes and none of MLflow's own prints.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keel.cli.demo_journey import DemoResult

HEAVY = ("feast", "mlflow", "sklearn", "pandas")
# (command, heavy libraries it may import): describe's label statistics use pandas.
QUICK_COMMANDS: list[tuple[list[str], set[str]]] = [
    (["--help"], set()),
    (["data", "describe"], {"pandas"}),
    (["models", "list"], set()),
    (["models", "show", "churn@champion"], set()),
    (["models", "history", "churn"], set()),
    (["predictions", "stats"], set()),
    (["infra", "status"], set()),
]
REPO = Path(__file__).resolve().parents[2]
KEEL = Path(sys.executable).parent / "keel"

PROBE = """
import json, sys
from typer.testing import CliRunner
from keel.cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"exit": result.exit_code, "heavy": heavy, "output": result.output}}))
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    return {**env, "KEEL_HOME": str(home), "NO_COLOR": "", "TERM": "xterm-256color"}


def _probe(home: Path, *args: str) -> dict[str, Any]:
    """Run `keel ARGS` in a fresh interpreter: its exit code, output and heavy imports."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        env=_env(home),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize(("args", "allowed"), QUICK_COMMANDS, ids=lambda a: " ".join(a))
def test_quick_command_imports_no_feast_mlflow_sklearn_or_pandas(
    journey: DemoResult, args: list[str], allowed: set[str]
) -> None:
    report = _probe(journey.settings.home, *args)
    assert report["exit"] == 0, report["output"]
    assert set(report["heavy"]) - allowed == set(), f"keel {' '.join(args)} imported them"


def test_quick_model_commands_read_the_registry_without_mlflow(journey: DemoResult) -> None:
    report = _probe(journey.settings.home, "models", "show", "churn@champion", "--json")
    shown = json.loads(report["output"])
    training = journey.training
    selected = next(c for c in training.candidates if c.name == training.selected)
    assert "champion" in training.aliases
    assert shown["version"] == int(training.model_version)
    assert shown["aliases"] == sorted(training.aliases)
    assert shown["run_id"] == selected.run_id or shown["tags"]["keel.candidate"] == selected.name
    assert shown["metrics"]["pr_auc"] == pytest.approx(selected.test["pr_auc"])
    assert "mlflow" not in report["heavy"]


def test_piped_materialize_and_train_print_no_escape_codes_or_mlflow_lines(
    journey: DemoResult, tmp_path: Path
) -> None:
    home = tmp_path / "keel-home"
    shutil.copytree(journey.settings.home, home)
    outputs = []
    for args in (["features", "materialize"], ["train"]):
        done = subprocess.run(
            [str(KEEL), *args],
            env=_env(home),
            cwd=tmp_path,
            capture_output=True,
            check=False,
            timeout=600,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output.decode(errors="replace")
        outputs.append(output)
    materialized, trained = outputs
    assert b"\x1b[" not in materialized + trained
    assert b"materializing customer_profile" in materialized
    assert b"Successfully registered" not in trained
    assert b"Created version" not in trained
    assert b"View run" not in trained
    assert b"registered as churn version 2" in trained

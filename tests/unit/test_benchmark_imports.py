"""The benchmark scripts import Keel's modules inside their functions, so no test imports them:
a module moved or a name renamed would only show when someone runs a benchmark. Every
`from keel|training|serving|registry|monitoring|synthetic|feature_repo import name` they hold
must resolve."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
PACKAGES = {"keel", "training", "serving", "registry", "monitoring", "synthetic", "feature_repo"}


def unresolved(script: Path) -> list[str]:
    """`module.name` of each of the script's Keel imports that does not resolve."""
    missing = []
    for node in ast.walk(ast.parse(script.read_text())):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if node.module.split(".")[0] not in PACKAGES:
            continue
        module = importlib.import_module(node.module)
        for alias in node.names:
            if hasattr(module, alias.name):
                continue
            try:
                importlib.import_module(f"{node.module}.{alias.name}")
            except ImportError:
                missing.append(f"{script.name}: {node.module}.{alias.name}")
    return missing


def test_every_benchmark_import_of_keel_resolves() -> None:
    scripts = sorted(BENCHMARKS.glob("*.py"))
    assert len(scripts) >= 5
    assert [m for script in scripts for m in unresolved(script)] == []


def test_the_check_reports_a_moved_name(tmp_path: Path) -> None:
    script = tmp_path / "bench_old.py"
    script.write_text("def run():\n    from training.labels import LABEL\n")
    assert unresolved(script) == ["bench_old.py: training.labels.LABEL"]

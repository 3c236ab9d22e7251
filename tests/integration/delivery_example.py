"""The delivery example (examples/delivery) copied to a temporary directory, generated small and
applied with Feast's own CLI: the shared set-up of the keel.yaml check and training tests."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "delivery"


def load_generator() -> Callable[..., object]:
    """The example's `generate(root, ...)`, loaded from its file (the example is no package)."""
    spec = importlib.util.spec_from_file_location("delivery_generate", EXAMPLE / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    generate: Callable[..., object] = module.generate
    return generate


def applied_example(root: Path) -> Path:
    """Copy the example into `root`, generate 30 couriers x 20 days, `feast apply`; `root`."""
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("data"))
    load_generator()(root, couriers=30, days=20, seed=3)
    feast = Path(sys.executable).parent / "feast"
    done = subprocess.run(
        [str(feast), "apply"],
        cwd=root / "feature_repo",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root

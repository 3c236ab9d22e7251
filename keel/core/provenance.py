"""Where a result came from: the code commit and the synthetic-data manifest."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from keel.core.atomic_files import write_text

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "manifest.json"


def code_commit() -> str:
    """The git commit of Keel's source tree (suffixed `-dirty` with local changes)."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def _git(*args: str) -> str:
    """`git ARGS` in Keel's source tree: its stripped output (raises when git fails)."""
    done = subprocess.run(
        ["git", *args], cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=5, check=True
    )
    return done.stdout.strip()


def read_manifest(raw_dir: Path) -> dict[str, Any]:
    """The generator's manifest (seed, sizes), or an empty dict for data Keel did not make."""
    path = raw_dir / MANIFEST
    if not path.exists():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def write_manifest(raw_dir: Path, manifest: dict[str, Any]) -> Path:
    return write_text(
        raw_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str)
    )

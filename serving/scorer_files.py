"""Compiled scorers kept on disk, proven again against the pipeline's answers when loaded.

A directory holds `scorer.json` (the scorer's path and parameters, the version's feature
columns, the probe rows it was proven on with the pipeline's answers on them, and the versions
of the libraries that computed both) and, for gradient boosting, `trees.bin` (Treelite's own
serialization). `load` rebuilds the scorer without scikit-learn, pandas or MLflow and scores the
probe rows again: a difference above `TOLERANCE`, another library version or an unreadable file
gives None with a warning, and the caller compiles from the pipeline again. Directories are
written beside their final place and renamed into it, so they are complete or absent.

Training logs such a directory with each registered version's model files, under `ARTIFACT_DIR`
(`training.scorer_artifact`); the serving model cache keeps the ones it compiles itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from serving.fast_linear import LinearScorer
from serving.fast_simple import ConstantScorer, OneRuleScorer
from serving.fast_trees import TreeScorer
from serving.scoring import TOLERANCE, Scorer, ScorerChoice, difference

logger = logging.getLogger(__name__)

FORMAT = 1
LIBRARIES = ("scikit-learn", "treelite", "numpy", "scipy")
"""Whose versions decide the answers: a change means proving the scorer from the pipeline again."""
STATE_FILE = "scorer.json"
ARTIFACT_DIR = "keel-scorer"
"""Where in a version's MLflow model files the scorer compiled at registration is."""
TREES_FILE = "trees.bin"

_READERS: dict[str, Callable[[dict[str, Any], Path], Scorer]] = {
    ConstantScorer.path: lambda state, _: ConstantScorer.from_state(state),
    OneRuleScorer.path: lambda state, _: OneRuleScorer.from_state(state),
    LinearScorer.path: lambda state, _: LinearScorer.from_state(state),
    TreeScorer.path: lambda state, d: TreeScorer.from_state(state, (d / TREES_FILE).read_bytes()),
}


def library_versions() -> dict[str, str]:
    """The installed version of each of `LIBRARIES` (read from package metadata, no import)."""
    found: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


@dataclass(frozen=True)
class SavedScorer:
    choice: ScorerChoice
    feature_columns: list[str]


def save(directory: Path, choice: ScorerChoice, feature_columns: Sequence[str]) -> bool:
    """Write a proven fast `choice` to `directory`, replacing what is there; False when there
    is nothing to save (the scikit-learn path or no probe rows)."""
    scorer = choice.scorer
    if choice.path not in _READERS or not choice.probes or not hasattr(scorer, "state"):
        return False
    body = {
        "format": FORMAT,
        "path": choice.path,
        "state": scorer.state(),
        "feature_columns": list(feature_columns),
        "probes": choice.probes,
        "expected": choice.expected,
        "libraries": library_versions(),
    }
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-"))
    try:
        if isinstance(scorer, TreeScorer):
            (tmp / TREES_FILE).write_bytes(scorer.trees_bytes())
        (tmp / STATE_FILE).write_text(json.dumps(body, allow_nan=False))
        for file in tmp.iterdir():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
        if directory.exists():  # stale: moved aside at once, so readers see old or new
            old = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-old-"))
            with contextlib.suppress(FileNotFoundError):  # another process moved it first
                directory.rename(old / directory.name)
            shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(directory)
        except OSError:
            if not directory.exists():  # else another process saved it first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


def load(directory: Path, *, name: str = "model") -> SavedScorer | None:
    """The scorer saved in `directory`, proven again on its probe rows; None when there is none
    or it cannot be trusted (then the pipeline decides again)."""
    if not (directory / STATE_FILE).exists():
        return None
    try:
        body = json.loads((directory / STATE_FILE).read_text())
        if body.get("format") != FORMAT:
            return _stale(name, directory, f"format {body.get('format')} (expected {FORMAT})")
        if body["libraries"] != library_versions():
            return _stale(name, directory, f"libraries {body['libraries']} have changed")
        scorer = _READERS[body["path"]](body["state"], directory)
        probes, expected = body["probes"], [float(v) for v in body["expected"]]
        gap = difference(scorer, probes, expected)
    except Exception as error:  # any unreadable file: compile from the pipeline instead
        return _stale(name, directory, f"unreadable ({type(error).__name__}: {error})")
    if not gap <= TOLERANCE:
        return _stale(name, directory, f"differs by {gap:.2g} on {len(probes)} probe rows")
    choice = ScorerChoice(scorer, body["path"], probes=probes, expected=expected)
    return SavedScorer(choice, [str(c) for c in body["feature_columns"]])


def _stale(name: str, directory: Path, why: str) -> SavedScorer | None:
    logger.warning("%s: compiled scorer %s not used: %s", name, directory, why)
    return None

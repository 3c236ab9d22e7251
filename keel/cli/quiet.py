"""Keep the terminal for Keel's own output, without importing Feast or MLflow up front.

Feast and MLflow reset warning filters and log levels when they are imported (Feast puts
`once` filters for deprecations in front; MLflow sets its logger to INFO with its own handler),
so the quieting must run after their import. Quick commands never import them, so the CLI
installs `quiet_after_import` once: the quieting runs when (and only if) a command's library
code first imports one of them.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

NOISY_LOGGERS = ("mlflow", "feast", "alembic", "urllib3", "httpx")
NOISY_PACKAGES = frozenset({"feast", "mlflow"})


def quiet_libraries() -> None:
    """Hide libraries' deprecation chatter and INFO logs; Keel's own logging stays at INFO."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*experimental.*", category=RuntimeWarning)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    events = sys.modules.get("mlflow.utils.logging_utils")
    if events is not None:
        # MLflow prints events ("Successfully registered model…") to its own stream, not
        # through logging: silence the stream (its autologging contexts turn it back on, so
        # training also captures the registration's prints), and send MLflow's errors through
        # the root logger (and its secret redaction) instead of the stream's handler.
        events.disable_logging()
        mlflow_logger = logging.getLogger("mlflow")
        mlflow_logger.handlers.clear()
        mlflow_logger.propagate = True


def quiet_after_import() -> None:
    """Quiet now, and again right after Feast or MLflow is first imported (if ever).

    Also tells MLflow not to print run and experiment links to stdout (an http tracking
    server makes it write two lines per run): Keel prints what matters itself.
    """
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    quiet_libraries()
    if not any(isinstance(finder, _QuietAfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietAfterImport())


class _QuietAfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of `feast` and `mlflow` so that
    `quiet_libraries` runs once the package's `__init__` has run."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in NOISY_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        run_init = loader.exec_module

        def exec_then_quiet(module: ModuleType) -> None:
            run_init(module)
            quiet_libraries()

        loader.exec_module = exec_then_quiet  # type: ignore[method-assign]
        return spec

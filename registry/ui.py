"""The MLflow UI on the workspace's backend store, so users keep the tool they already know.

Only the command line and environment are built here (pure, testable); the CLI runs them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from keel.core.backends import mlflow_tracking_uri, redact_url
from keel.core.errors import InvalidInput
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from registry.database import is_database_uri


@dataclass(frozen=True)
class UiServer:
    """How to start `mlflow server` for a workspace and where it will answer."""

    command: list[str]
    env: dict[str, str]
    url: str


def ui_server(settings: Settings, *, host: str = "127.0.0.1", port: int = 5000) -> UiServer:
    """`mlflow server` on the profile's backend store and the workspace's artifact directory.

    MLflow starts its web server by name from PATH, so the interpreter's own bin directory
    (the virtualenv's) goes first on PATH. The backend store URI travels in
    `MLFLOW_BACKEND_STORE_URI`.
    """
    if not 0 < port < 65536:
        raise InvalidInput(f"port must be between 1 and 65535, got {port}")
    uri = mlflow_tracking_uri(settings)
    if not is_database_uri(uri):
        raise InvalidInput(
            f"the tracking URI {redact_url(uri)} is already an MLflow server: open it in a browser "
            "instead"
        )
    bin_dir = Path(sys.executable).parent
    artifacts = Workspace.from_settings(settings).ensure().artifacts_dir.as_uri()
    command = [
        str(bin_dir / "mlflow"),
        "server",
        "--default-artifact-root",
        artifacts,
        "--artifacts-destination",
        artifacts,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        # Through the environment, not argv: a PostgreSQL password must not show in `ps`.
        "MLFLOW_BACKEND_STORE_URI": uri,
    }
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    return UiServer(command=command, env=env, url=f"http://{shown}:{port}")

"""The registry client a server starts with: alias lookups read from MLflow's own tables,
everything else through a real `MlflowClient`, created the first time it is needed.

A server following its aliases asks the registry two things: which version an alias points to
(with its run and tags) and, for a version it has never loaded, where its files are. With the
versions' files and compiled scorers in the serving model cache, a start needs only the first,
and reading it from the `registered_model_aliases`, `model_versions` and `model_version_tags`
tables on Keel's engine (as `keel models show` does) saves `import mlflow` and the opening of
its SQLAlchemy store (together 1-2 s of a start). A version's files and its run's artifacts
are found the same way, and copied in place when they are local files (`local_artifact_path`):
the first start after `keel train` needs no MLflow either. An `http(s)://` tracking server hides
its database: there a real `MlflowClient` answers everything.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from keel.core.backends import mlflow_tracking_uri
from keel.core.errors import ModelNotFound
from keel.core.settings import Settings
from registry.client import mlflow_client
from registry.database import is_database_uri
from registry.registry_reads import read_alias_version, read_download_uri, read_run_artifact_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class VersionRecord:
    """What serving reads of a registered version (the fields of MLflow's `ModelVersion`)."""

    name: str
    version: str
    run_id: str | None
    source: str
    tags: dict[str, str] = field(default_factory=dict)


class TableReadsClient:
    """`get_model_version_by_alias` from MLflow's tables; the rest from an `MlflowClient`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.tracking_uri = mlflow_tracking_uri(settings)
        self._client: MlflowClient | None = None
        self._lock = threading.Lock()

    def get_model_version_by_alias(self, name: str, alias: str) -> VersionRecord:
        row = read_alias_version(self._settings, name, alias)
        if row is None:
            raise ModelNotFound(f"model {name}@{alias} not found: train one with `keel train`")
        return VersionRecord(
            name=name,
            version=str(row.version),
            run_id=row.run_id,
            source=row.source,
            tags=dict(row.tags),
        )

    def mlflow(self) -> MlflowClient:
        """The real client, created on first use."""
        with self._lock:
            if self._client is None:
                self._client = mlflow_client(self._settings)
            return self._client

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        uri = read_download_uri(self._settings, name, str(version))
        if uri is not None and not uri.startswith("models:/"):
            return uri
        return str(self.mlflow().get_model_version_download_uri(name, str(version)))

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """As `MlflowClient.download_artifacts`; copied in place from a local artifact store."""
        root = read_run_artifact_uri(self._settings, run_id)
        local = local_artifact_path(root) if root is not None else None
        if local is None or dst_path is None:
            return str(self.mlflow().download_artifacts(run_id, path, dst_path))
        source, target = local / path, Path(dst_path) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
        return str(target)


def local_artifact_path(uri: str) -> Path | None:
    """The local directory of a `file:` (or plain absolute path) artifact URI, else None."""
    parsed = urlparse(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None


def serving_registry_client(settings: Settings) -> Any:
    """A `TableReadsClient` when Keel can read MLflow's database itself, else an
    `MlflowClient` (a tracking server)."""
    if is_database_uri(mlflow_tracking_uri(settings)):
        return TableReadsClient(settings)
    return mlflow_client(settings)

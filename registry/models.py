"""Registered model versions: resolve an alias, load the version's pipeline, move aliases.

MLflow and scikit-learn are imported when a pipeline is actually loaded, not with this module:
a server whose versions come with a compiled scorer from its disk cache starts without them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.core.errors import ModelNotFound

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from sklearn.pipeline import Pipeline

CHAMPION = "champion"


class PipelineSource:
    """A version's fitted pipeline, loaded by `loader` on first use (once, thread-safe)."""

    def __init__(self, loader: Callable[[], Pipeline]) -> None:
        self._loader: Callable[[], Pipeline] | None = loader
        self._pipeline: Pipeline | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, pipeline: Pipeline) -> PipelineSource:
        """A source holding an already loaded pipeline."""
        source = cls(lambda: pipeline)
        source._pipeline, source._loader = pipeline, None
        return source

    @property
    def loaded(self) -> bool:
        return self._pipeline is not None

    def get(self) -> Pipeline:
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    assert self._loader is not None
                    self._pipeline = self._loader()
                    self._loader = None
        return self._pipeline


@dataclass(frozen=True)
class LoadedModel:
    """A registered version in memory, with what a prediction log needs to name it.

    `source` is the pipeline itself or a `PipelineSource` that loads it on first use;
    `scorer` is the scorer chosen and proven equal to the pipeline when the version was loaded
    (from the serving model cache), so serving needs the pipeline only to explain."""

    name: str
    version: str
    alias: str | None
    run_id: str
    source: Pipeline | PipelineSource
    feature_columns: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    scorer: Any = None
    """A `serving.scoring.ScorerChoice` proven when the version was first compiled, or None."""

    def __post_init__(self) -> None:
        if not isinstance(self.source, PipelineSource):
            object.__setattr__(self, "source", PipelineSource.of(self.source))

    @property
    def pipeline(self) -> Pipeline:
        """The fitted scikit-learn pipeline (loaded now if it was deferred)."""
        assert isinstance(self.source, PipelineSource)
        return self.source.get()


def resolve_version(client: MlflowClient, name: str, alias: str) -> ModelVersion:
    """The version `name@alias` points to; `ModelNotFound` names what is missing. `client` is
    an `MlflowClient` or a `registry.registry_client.TableReadsClient` (which raises
    `ModelNotFound` itself)."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except ModelNotFound:
        raise
    except Exception as error:
        from mlflow.exceptions import MlflowException  # only on this path: MLflow is heavy

        if not isinstance(error, MlflowException):
            raise
        raise ModelNotFound(
            f"model {name}@{alias} not found: train one with `keel train` ({error.error_code})"
        ) from error


def load_version(client: MlflowClient, version: ModelVersion, *, alias: str | None) -> LoadedModel:
    """Download (or open in place) the version's artifacts and load its sklearn pipeline."""
    import mlflow.artifacts
    import mlflow.sklearn

    uri = client.get_model_version_download_uri(version.name, version.version)
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=client.tracking_uri)
    pipeline = mlflow.sklearn.load_model(local)
    columns = [str(c) for c in getattr(pipeline, "feature_names_in_", [])]
    return LoadedModel(
        name=version.name,
        version=str(version.version),
        alias=alias,
        run_id=str(version.run_id),
        source=pipeline,
        feature_columns=columns,
        tags=dict(version.tags or {}),
    )


def load_alias(client: MlflowClient, name: str, alias: str = CHAMPION) -> LoadedModel:
    """Load the version that `name@alias` points to now."""
    return load_version(client, resolve_version(client, name, alias), alias=alias)

"""The models the server last loaded, kept on local disk so it can start while MLflow is down.

`$KEEL_HOME/serving/model-cache/<model>/versions/<N>/` holds version N's MLflow model directory,
downloaded beside it and renamed into place (so it is complete or absent);
`<model>/<alias>.json` names the version the alias pointed to when it was last loaded, with what
serving needs besides the files: run id, tags (the threshold), feature columns, the expectations
of its reference profile and when it was loaded. The pointer is replaced atomically
(`os.replace`) after every successful load, so a crash never leaves half a pointer. Versions are
kept (a few hundred KB each) so worker processes sharing the workspace never lose files in use.

A version's compiled scorer (`serving.scorer_files`) comes with its model files: training
compiles it at registration (`training.scorer_artifact`, under `keel-scorer/`). When that one is
missing (versions trained before it) or cannot be trusted (other library versions, answers that
differ on its probe rows), the pipeline is loaded and compiled, and the result kept in
`<model>/scorers/<N>/` for later loads, which look there first. Either way the scorer is proven
again on its probe rows, and the pipeline (scikit-learn, skops, MLflow's loader: most of a
server's start-up) is deferred until something asks for it (`explain`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.core.workspace import Workspace
from monitoring.validation import CategoricalExpectation, Expectations, NumericExpectation
from registry.models import LoadedModel, PipelineSource
from serving import scorer_files
from serving.scoring import SKLEARN, choose_scorer

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

FORMAT = 1


def prepare_pipeline_loading() -> None:
    """Import what loading a version's pipeline needs (MLflow's sklearn flavor, skops,
    scikit-learn's estimators): run in the background once a server is ready, so the first
    alias move it follows does not also pay these imports (2-3 s; none of them is needed to
    start when every served version's compiled scorer is cached)."""
    import mlflow.sklearn  # noqa: F401
    import sklearn.compose
    import sklearn.ensemble
    import sklearn.linear_model  # noqa: F401
    import skops.io  # noqa: F401
    import treelite.sklearn  # noqa: F401

    import monitoring.profile  # noqa: F401  (a new version's reference profile)
    import training.models  # noqa: F401  (the classes a pipeline may hold)


def cache_root(home: Path) -> Path:
    """Where the serving model cache of workspace `home` lives (the workspace decides)."""
    return Workspace(home).model_cache_dir


@dataclass(frozen=True)
class CachedModel:
    """A version restored from disk, with the expectations and load time recorded with it."""

    model: LoadedModel
    expectations: Expectations | None
    loaded_at: datetime


def expectations_to_json(expectations: Expectations | None) -> dict[str, Any] | None:
    if expectations is None:
        return None
    body = asdict(expectations)
    for item in body["categorical"]:
        if item["allowed"] is not None:
            item["allowed"] = sorted(item["allowed"])
    return body


def expectations_from_json(body: dict[str, Any] | None) -> Expectations | None:
    if body is None:
        return None
    numeric = tuple(NumericExpectation(**item) for item in body["numeric"])
    categorical = tuple(
        CategoricalExpectation(
            **{**item, "allowed": None if item["allowed"] is None else frozenset(item["allowed"])}
        )
        for item in body["categorical"]
    )
    return Expectations(numeric, categorical, float(body["null_tolerance"]))


def _download(uri: str, into: Path, *, tracking_uri: str) -> Path:
    """The files at artifact `uri`, under directory `into`: copied when they are local files
    (no MLflow import: the first start after training), else through MLflow."""
    from registry.registry_client import local_artifact_path

    local = local_artifact_path(uri)
    if local is not None:
        return Path(shutil.copytree(local, into / "files"))
    import mlflow.artifacts

    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(into), tracking_uri=tracking_uri
        )
    )


def _write_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(out.name, path)


class ModelFilesCache:
    """Downloads versions into the cache (the `ModelCache` loader) and remembers, per alias,
    the version last served under it."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root / name
        self._name = name

    def version_dir(self, version: str) -> Path:
        return self.root / "versions" / version

    def pointer(self, alias: str) -> Path:
        return self.root / f"{alias}.json"

    def scorer_dir(self, version: str) -> Path:
        return self.root / "scorers" / version

    def expectations_file(self, version: str) -> Path:
        return self.root / "expectations" / f"{version}.json"

    def expectations(self, client: MlflowClient, version: ModelVersion) -> Expectations | None:
        """The expectations of the version's reference profile: from the cache when a load
        saved them, else from its run (`serving.model_cache.load_expectations`), then saved."""
        path = self.expectations_file(str(version.version))
        try:
            return expectations_from_json(json.loads(path.read_text())["expectations"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("ignoring the cached expectations %s: %s", path, error)
        from serving.model_cache import load_expectations

        expectations = load_expectations(client, version)
        if expectations is not None:  # none: asked again (and warned about) at every start
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                body = {"format": FORMAT, "expectations": expectations_to_json(expectations)}
                _write_atomically(path, json.dumps(body))
            except OSError as error:
                logger.warning("could not cache the expectations of %s: %s", path.stem, error)
        return expectations

    def spec_file(self, version: str) -> Path:
        return self.root / "specs" / f"{version}.json"

    def spec(self, client: MlflowClient, version: ModelVersion) -> dict[str, Any] | None:
        """The version's model spec: from the cache when a load saved it, else from its run
        (`serving.model_cache.load_spec`), then saved (a version without one is asked again)."""
        path = self.spec_file(str(version.version))
        try:
            cached: dict[str, Any] = json.loads(path.read_text())["spec"]
            return cached
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("ignoring the cached model spec %s: %s", path, error)
        from serving.model_cache import load_spec

        spec = load_spec(client, version)
        if spec is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(path, json.dumps({"format": FORMAT, "spec": spec}))
            except OSError as error:
                logger.warning("could not cache the model spec of %s: %s", path.stem, error)
        return spec

    def download(self, client: MlflowClient, version: ModelVersion) -> LoadedModel:
        """Load `version`, from the cache when its files are already there."""
        key = str(version.version)
        target = self.version_dir(key)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            uri = client.get_model_version_download_uri(version.name, version.version)
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
                local = _download(uri, Path(tmp), tracking_uri=client.tracking_uri)
                try:
                    local.rename(target)
                except OSError:
                    if not target.exists():  # else another process put it there first
                        raise
        return self._open(
            key, run_id=str(version.run_id), tags=dict(version.tags or {}), alias=None
        )

    def _load_pipeline(self, version: str) -> Pipeline:
        import mlflow.sklearn

        pipeline: Pipeline = mlflow.sklearn.load_model(str(self.version_dir(version)))
        return pipeline

    def _open(
        self, version: str, *, run_id: str, tags: dict[str, str], alias: str | None
    ) -> LoadedModel:
        """The version from its cached files: with its saved compiled scorer and the pipeline
        deferred when the scorer proves itself again, else the pipeline loaded now, its scorer
        chosen and (when fast) saved for the next load."""
        name = f"model {self._name} v{version}"
        saved = scorer_files.load(self.scorer_dir(version), name=name) or self._registered_scorer(
            version, name
        )
        if saved is not None:
            source = PipelineSource(lambda: self._load_pipeline(version))
            columns, choice = saved.feature_columns, saved.choice
        else:
            pipeline = self._load_pipeline(version)
            source = PipelineSource.of(pipeline)
            columns = [str(c) for c in getattr(pipeline, "feature_names_in_", [])]
            choice = choose_scorer(pipeline, columns, name=name)
            if choice.path != SKLEARN:
                try:
                    scorer_files.save(self.scorer_dir(version), choice, columns)
                except OSError as error:  # only costs the next start its compile
                    logger.warning("%s: could not save its compiled scorer: %s", name, error)
        return LoadedModel(self._name, version, alias, run_id, source, columns, tags, scorer=choice)

    def _registered_scorer(self, version: str, name: str) -> scorer_files.SavedScorer | None:
        """The scorer compiled at registration, from the version's files; None (saying why)
        when it has none or it cannot be trusted: then it is compiled at load."""
        directory = self.version_dir(version) / scorer_files.ARTIFACT_DIR
        if not directory.exists():
            logger.info("%s: no compiled scorer registered with it: compiling at load", name)
            return None
        saved = scorer_files.load(directory, name=name)
        if saved is None:
            logger.info("%s: compiling at load instead of its registered scorer", name)
        else:
            logger.info("%s: scorer compiled at registration (%s)", name, saved.choice.path)
        return saved

    def remember(self, alias: str, model: LoadedModel, expectations: Expectations | None) -> None:
        """Record that `alias` now serves `model` (its files must be in the cache)."""
        if not self.version_dir(model.version).exists():
            logger.warning("model %s v%s is not in the local cache", model.name, model.version)
            return
        body = {
            "format": FORMAT,
            "name": model.name,
            "version": model.version,
            "alias": alias,
            "run_id": model.run_id,
            "tags": model.tags,
            "feature_columns": model.feature_columns,
            "expectations": expectations_to_json(expectations),
            "loaded_at": datetime.now(UTC).isoformat(),
        }
        _write_atomically(self.pointer(alias), json.dumps(body, indent=1))

    def forget(self, alias: str) -> None:
        """The alias no longer serves anything (for example the challenger was removed)."""
        self.pointer(alias).unlink(missing_ok=True)

    def recall(self, alias: str) -> CachedModel | None:
        """The version last served under `alias`, loaded from disk; None when none was cached
        or the cache is unreadable (with a warning naming the file)."""
        path = self.pointer(alias)
        if not path.exists():
            return None
        try:
            body = json.loads(path.read_text())
            model = self._open(
                str(body["version"]), run_id=body["run_id"], tags=body["tags"], alias=alias
            )
            expectations = expectations_from_json(body["expectations"])
            loaded_at = datetime.fromisoformat(body["loaded_at"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("ignoring the model cache %s: %s", path, error)
            return None
        return CachedModel(model, expectations, loaded_at)

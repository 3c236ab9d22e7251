"""The served models: `champion` (required) and `challenger` (optional), following their aliases.

Loaded versions are cached by version number, with the expectations of their reference profile
(data validation, see `monitoring.validation`), so a promotion or a rollback to a version seen
before swaps at once and each served version checks rows against its own training data. The
current pair is one immutable `ModelSet`; a request reads it once, so a swap between two requests
never mixes versions and never fails a request. With a `ModelFilesCache`, loaded versions are
also kept on disk, so a server started while the registry is down serves the champion it last
loaded (`restore`).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from keel.core.errors import InvalidInput, ModelNotFound
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from monitoring.validation import Expectations
from registry.model_spec import SPEC_ARTIFACT, SPEC_HASH_TAG, TASK_TAG, spec_sha256
from registry.models import CHAMPION, LoadedModel, load_version, resolve_version
from serving.ids import new_prediction_id
from serving.model_files_cache import CachedModel, ModelFilesCache
from serving.prediction_log import PredictionRecord, ServedBy, Task
from serving.scoring import Scorer, scorer_of

if TYPE_CHECKING:  # MLflow and the profile's statistics are not needed to start serving
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

logger = logging.getLogger(__name__)

CHALLENGER = "challenger"
THRESHOLD_TAG = "keel.threshold"
DEFAULT_THRESHOLD = 0.5
TASKS: tuple[Task, ...] = ("binary", "regression")


def task_of(model: LoadedModel) -> Task:
    """The version's task (tag `keel.task`), "binary" when absent (the built-in example's
    versions before it)."""
    text = model.tags.get(TASK_TAG, "binary")
    if text not in TASKS:
        logger.warning("model %s v%s: ignoring %s=%r", model.name, model.version, TASK_TAG, text)
        return "binary"
    return cast(Task, text)


def threshold_of(model: LoadedModel) -> float:
    """The version's decision threshold (tag `keel.threshold`), 0.5 when absent or invalid."""
    text = model.tags.get(THRESHOLD_TAG)
    if text is None:
        return DEFAULT_THRESHOLD
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        logger.warning(
            "model %s v%s: ignoring %s=%r", model.name, model.version, THRESHOLD_TAG, text
        )
        return DEFAULT_THRESHOLD
    return value


@dataclass(frozen=True)
class ServedModel:
    """A loaded version, the alias it is served under, its threshold, its scorer and the
    expectations of its reference profile (None for versions trained without one)."""

    model: LoadedModel
    threshold: float
    scorer: Scorer
    expectations: Expectations | None = None
    scoring: str = "sklearn"
    """The scoring path (`serving.scoring.ScorerChoice.describe`), reported by `/readyz`."""
    spec: dict[str, Any] | None = None
    """The version's model spec (`registry.model_spec`); None for versions trained without one."""

    @classmethod
    def of(
        cls,
        model: LoadedModel,
        expectations: Expectations | None = None,
        spec: dict[str, Any] | None = None,
    ) -> ServedModel:
        """Compiles the fast scorer once, checked against the pipeline on probe rows."""
        name = f"model {model.name} v{model.version}"
        choice = scorer_of(model, name=name)
        return cls(model, threshold_of(model), choice.scorer, expectations, choice.describe(), spec)

    @property
    def task(self) -> Task:
        return task_of(self.model)

    def record(
        self,
        *,
        entity: dict[str, Any],
        score: float,
        features: dict[str, Any],
        created_at: datetime,
        code_commit: str,
        request_id: str | None,
        served_by: ServedBy,
        prediction_id: str | None = None,
    ) -> PredictionRecord:
        """The log record of one answer of this version: score, label at its threshold (binary),
        the features used and those that break its reference expectations. `prediction_id`:
        one of `new_prediction_ids` (a batch draws them at once); default: a new one."""
        model = self.model
        task = self.task
        violations = None if self.expectations is None else self.expectations.violations(features)
        return PredictionRecord(
            prediction_id=prediction_id or new_prediction_id(),
            created_at=created_at,
            model_name=model.name,
            model_version=model.version,
            model_alias=model.alias,
            run_id=model.run_id,
            code_commit=code_commit,
            request_id=request_id,
            served_by=served_by,
            entity=entity,
            task=task,
            score=float(score),
            label=int(score >= self.threshold) if task == "binary" else None,
            features=features,
            violations=violations,
        )


@dataclass(frozen=True)
class ModelSet:
    champion: ServedModel
    challenger: ServedModel | None
    """None when the alias is missing or points to the champion's version."""
    challenger_version: str | None = None
    """Where the `challenger` alias points, also when that is the champion's version (then it
    is not served separately): `/metrics` reports the alias, not the separate model."""

    def scoring(self) -> str:
        """How each served version is scored, e.g. `champion v3: treelite` (`/readyz`)."""
        served = [(CHAMPION, self.champion), (CHALLENGER, self.challenger)]
        return "; ".join(
            f"{alias} v{model.model.version}: {model.scoring}" for alias, model in served if model
        )

    def versions(self) -> dict[str, str | None]:
        """The version each alias points to (None: no such alias)."""
        challenger = self.challenger.model.version if self.challenger else self.challenger_version
        return {CHAMPION: self.champion.model.version, CHALLENGER: challenger}


Loader = Callable[["MlflowClient", "ModelVersion"], LoadedModel]
ExpectationsLoader = Callable[["MlflowClient", "ModelVersion"], "Expectations | None"]
SpecLoader = Callable[["MlflowClient", "ModelVersion"], "dict[str, Any] | None"]


def load_spec(client: MlflowClient, version: ModelVersion) -> dict[str, Any] | None:
    """The version's model spec (its run's `model_spec.json`, checked against the version's
    hash tag); None when it has none (the built-in example's versions trained before specs),
    or, with a warning, when it is unreadable: serving then takes the interface from the feature
    service."""
    expected = (version.tags or {}).get(SPEC_HASH_TAG)
    if expected is None:
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = client.download_artifacts(str(version.run_id), SPEC_ARTIFACT, tmp)
            content = Path(local).read_bytes()
        if spec_sha256(content) != expected:
            raise ValueError(f"{SPEC_ARTIFACT} does not match its {SPEC_HASH_TAG} tag")
        spec: dict[str, Any] = json.loads(content)
    except Exception as error:  # MLflow's, the file's or the JSON's: serve without the spec
        logger.warning(
            "model %s v%s: unusable model spec (%s): its interface comes from the feature service",
            version.name,
            version.version,
            str(error).splitlines()[0] if str(error) else type(error).__name__,
        )
        return None
    return spec


def _load(client: MlflowClient, version: ModelVersion) -> LoadedModel:
    return load_version(client, version, alias=None)


def load_expectations(client: MlflowClient, version: ModelVersion) -> Expectations | None:
    """The expectations of the version's `monitoring/reference_profile.json`; None, with a
    warning, when its run has none (versions trained before Keel logged it) or it is unreadable:
    such a version serves without data validation rather than not at all."""
    from monitoring.profile import PROFILE_ARTIFACT, ReferenceProfile

    name = f"model {version.name} v{version.version}"
    if not version.run_id:
        logger.warning("%s has no run: serving it without data validation", name)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(version.run_id, PROFILE_ARTIFACT, tmp)
            profile = ReferenceProfile.load(Path(local))
        except Exception as error:
            if not isinstance(error, OSError | InvalidInput) and not _from_mlflow(error):
                raise
            logger.warning(
                "%s has no usable %s (%s): serving it without data validation",
                name,
                PROFILE_ARTIFACT,
                str(error).splitlines()[0] if str(error) else type(error).__name__,
            )
            return None
    return Expectations.from_profile(profile)


def _from_mlflow(error: Exception) -> bool:
    """An `MlflowException` (imported only then: a local artifact store needs no MLflow)."""
    from mlflow.exceptions import MlflowException

    return isinstance(error, MlflowException)


class ModelCache:
    """Resolves the aliases on `refresh()` and swaps in the new pair atomically."""

    def __init__(
        self,
        client: MlflowClient,
        name: str,
        *,
        loader: Loader | None = None,
        expectations_loader: ExpectationsLoader = load_expectations,
        spec_loader: SpecLoader = load_spec,
        files: ModelFilesCache | None = None,
        probe: Callable[[], None] | None = None,
    ) -> None:
        """`files`: keep loaded versions on disk (and load through it unless `loader` is
        given); `probe`: raises `RegistryUnavailable` quickly when the registry is down."""
        self._client = client
        self._name = name
        self._files = files
        self._probe = probe
        self._loader = loader or (files.download if files is not None else _load)
        self._expectations_loader = expectations_loader
        self._spec_loader = spec_loader
        self._loaded: dict[str, LoadedModel] = {}
        self._expectations: dict[str, Expectations | None] = {}
        self._specs: dict[str, dict[str, Any] | None] = {}
        self._refresh_lock = threading.Lock()
        self._current: ModelSet | None = None

    @property
    def name(self) -> str:
        """The registered model whose aliases this cache follows."""
        return self._name

    @property
    def current(self) -> ModelSet | None:
        return self._current

    def refresh(self) -> bool:
        """Follow both aliases; True when the served pair changed. Raises `ModelNotFound` only
        when no champion was ever loaded (otherwise the cached pair keeps serving)."""
        with self._refresh_lock:
            if self._probe is not None:
                self._probe()
            champion_version = resolve_version(self._client, self._name, CHAMPION)
            try:
                challenger_version: ModelVersion | None = resolve_version(
                    self._client, self._name, CHALLENGER
                )
            except ModelNotFound:
                challenger_version = None
            pointed = None if challenger_version is None else str(challenger_version.version)
            if challenger_version and challenger_version.version == champion_version.version:
                challenger_version = None
            champion = self._served(champion_version, CHAMPION)
            challenger = (
                self._served(challenger_version, CHALLENGER) if challenger_version else None
            )
            new = ModelSet(champion, challenger, pointed)
            if self._current is not None and new.versions() == self._current.versions():
                return False
            if self._current is not None:
                logger.info("models now %s (were %s)", new.versions(), self._current.versions())
            self._current = new
            self._remember(new)
            return True

    def _remember(self, models: ModelSet) -> None:
        """Record on disk what each alias serves now (a failure only costs the cache)."""
        if self._files is None:
            return
        challenger = models.challenger
        if challenger is None and models.challenger_version == models.champion.model.version:
            challenger = models.champion  # the alias points to the champion's version
        try:
            for alias, served in ((CHAMPION, models.champion), (CHALLENGER, challenger)):
                if served is None:
                    self._files.forget(alias)
                else:
                    self._files.remember(alias, served.model, served.expectations)
        except OSError as error:
            logger.warning("could not update the local model cache: %s", error)

    def restore(self) -> CachedModel | None:
        """Serve the versions last loaded under the aliases, from the disk cache (for a start
        while the registry is down); the cached champion, or None when there is none."""
        if self._files is None:
            return None
        with self._refresh_lock:
            champion = self._files.recall(CHAMPION)
            if champion is None:
                return None
            challenger = self._files.recall(CHALLENGER)
            pointed = None if challenger is None else challenger.model.version
            if challenger is not None and challenger.model.version == champion.model.version:
                challenger = None
            for cached in (champion, challenger):
                if cached is not None:
                    self._loaded.setdefault(cached.model.version, replace(cached.model, alias=None))
                    self._expectations.setdefault(cached.model.version, cached.expectations)
            self._current = ModelSet(
                ServedModel.of(champion.model, champion.expectations),
                ServedModel.of(challenger.model, challenger.expectations) if challenger else None,
                pointed,
            )
            return champion

    def _served(self, version: ModelVersion, alias: str) -> ServedModel:
        key = str(version.version)
        current = self._current
        for served in (current.champion, current.challenger) if current else ():
            if served is not None and served.model.version == key and served.model.alias == alias:
                return served
        if key not in self._loaded:
            self._loaded[key] = self._loader(self._client, version)
        if key not in self._expectations:  # once per version: one warning when it has none
            self._expectations[key] = self._expectations_loader(self._client, version)
        if key not in self._specs:
            self._specs[key] = self._spec_loader(self._client, version)
        return ServedModel.of(
            replace(self._loaded[key], alias=alias), self._expectations[key], self._specs[key]
        )


def workspace_model_cache(
    settings: Settings,
    name: str,
    *,
    client: Any = None,
    probe: Callable[[], None] | None = None,
) -> ModelCache:
    """The cache of model `name` kept in `settings`' workspace, as the server keeps it: loaded
    versions (their files, compiled scorer, expectations and spec) stay on disk, and aliases are
    read without importing MLflow where Keel can read its database (`client` default). The
    server and `keel score` share it, so either loads a version the other already has without
    the pipeline or MLflow."""
    from registry.registry_client import serving_registry_client

    files = ModelFilesCache(Workspace.from_settings(settings).model_cache_dir, name)
    return ModelCache(
        client if client is not None else serving_registry_client(settings),
        name,
        files=files,
        expectations_loader=files.expectations,
        spec_loader=files.spec,
        probe=probe,
    )

"""One served model: its predictor (model cache + feature source), its micro-batcher, the
interface a request must follow, and the state of its alias-following.

`Runtime` holds one per model of keel.yaml (or the built-in example's alone without one). Each
follows its own `champion`/`challenger` aliases; a model without a champion yet is listed and
answers 503 (`ModelNotReady`) until one appears.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keel.core.errors import KeelError, RegistryUnavailable
from serving.batcher import MicroBatcher
from serving.metrics import Metrics
from serving.predictor import Predictor

logger = logging.getLogger("serving.runtime")
"""The server's alias-following speaks under the runtime's logger name, as before models were
served separately (log configurations and filters name it)."""


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


@dataclass(frozen=True)
class Interface:
    """What a request for the model holds: join keys and request fields, each with its Feast
    type (`Int64`, `String`, ...; "" when unknown)."""

    service: str
    join_keys: dict[str, str]
    request_fields: dict[str, str]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Interface:
        return cls(
            str(spec["feature_service"]),
            {k["name"]: str(k.get("dtype", "")) for k in spec["join_keys"]},
            {f["name"]: str(f.get("dtype", "")) for f in spec["request_fields"]},
        )


@dataclass
class ModelService:
    """A model of the server, following its aliases."""

    predictor: Predictor
    batcher: MicroBatcher
    registry_interface: Interface
    """The feature service's interface as Feast's registry describes it."""
    route: str
    """Where it is predicted, for messages (`/v1/predict` for the built-in example's model)."""
    registry_status: str = field(default="ok")
    """`ok`, or why the aliases cannot be followed and what is served meanwhile (`/readyz`)."""
    alias_problem: str | None = field(default=None)
    """What the last alias check could not do and what is served meanwhile; logged on change."""

    @property
    def name(self) -> str:
        return self.predictor.name

    @property
    def interface(self) -> Interface:
        """The champion's model spec when it has one (its join keys, request fields), else the
        feature service's in Feast's registry (the built-in example's versions without a spec)."""
        current = self.predictor.models.current
        spec = current.champion.spec if current is not None else None
        return Interface.from_spec(spec) if spec else self.registry_interface

    @property
    def task(self) -> str | None:
        current = self.predictor.models.current
        if current is not None:
            return current.champion.task
        return None

    def start(self, metrics: Metrics) -> None:
        """The first alias check; without the registry, the champion cached by an earlier start."""
        models = self.predictor.models
        try:
            self.reload(metrics)
        except RegistryUnavailable as error:
            restore = getattr(models, "restore", None)
            cached = restore() if restore is not None else None
            if cached is None:
                self.registry_status = "unreachable, no cached champion"
                self.note_alias_problem(error)
            else:
                logger.warning(
                    "registry unreachable (%s): serving cached champion %s v%s, loaded at %s, "
                    "until the registry answers",
                    error.message,
                    cached.model.name,
                    cached.model.version,
                    cached.loaded_at.isoformat(timespec="seconds"),
                )
                self.registry_status = (
                    f"unreachable, serving cached champion v{cached.model.version}"
                )
                self.publish_versions(metrics)
                self.alias_problem = self.describe_alias_problem(error)  # said above
        except KeelError as error:  # no champion yet: serve 503 until one appears
            self.note_alias_problem(error)

    def reload(self, metrics: Metrics) -> bool:
        """Follow the aliases now; True when the served versions changed."""
        try:
            changed = self.predictor.models.refresh()
        except RegistryUnavailable:
            metrics.reloads.labels("failed").inc()
            current = self.predictor.models.current
            if current is None:
                self.registry_status = "unreachable, no model loaded"
            elif not self.registry_status.startswith("unreachable"):
                loaded = current.champion.model.version
                self.registry_status = f"unreachable, serving loaded champion v{loaded}"
            raise
        except Exception:
            metrics.reloads.labels("failed").inc()
            raise
        if self.registry_status != "ok":
            logger.info("registry reachable again: following the aliases of %s", self.name)
        self.registry_status = "ok"
        metrics.reloads.labels("changed" if changed else "unchanged").inc()
        self.publish_versions(metrics)
        return changed

    def publish_versions(self, metrics: Metrics) -> None:
        """`keel_model_version{model,alias}`: the version each alias points to (0: none)."""
        current = self.predictor.models.current
        if current is not None:
            for alias, version in current.versions().items():
                metrics.model_version.labels(self.name, alias).set(float(version or 0))

    def describe_alias_problem(self, error: Exception) -> str:
        """A failed alias check in words: why, what is served meanwhile, and what to do."""
        why = error.message if isinstance(error, KeelError) else _reason(error)
        current = self.predictor.models.current
        if current is None:
            name = self.name
            return (
                f"no model to serve and none cached ({why}): not ready, {self.route} answers 503 "
                f"until {name}@champion exists; run `keel train`, or `keel models promote "
                f"{name}/<version> --alias champion`"
            )
        served = ", ".join(f"{alias} v{v}" for alias, v in current.versions().items() if v)
        return f"alias check failed ({why}); still serving the loaded models: {served}"

    def note_alias_problem(self, error: Exception) -> None:
        """Log a failed alias check once, and again only when what it says changes."""
        problem = self.describe_alias_problem(error)
        if problem != self.alias_problem:
            logger.warning("%s", problem)
        self.alias_problem = problem

    def check_aliases(self, metrics: Metrics) -> bool:
        """One alias check (blocking); True when a served version changed. A failure is logged
        when it differs from the last one, a recovery once."""
        try:
            changed = self.reload(metrics)
        except Exception as error:
            self.note_alias_problem(error)
            return False
        if self.alias_problem is not None:
            current = self.predictor.models.current
            versions = current.versions() if current else {}
            served = versions if self.route == "/v1/predict" else {self.name: versions}
            logger.info("alias check succeeded again: serving %s", served)
        self.alias_problem = None
        return changed

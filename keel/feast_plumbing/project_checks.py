"""keel.yaml checked against the Feast registry of its repo, before any work starts.

For each model: its feature service exists; the label table holds the service's join keys
(every view's, on-demand views' sources included), the request fields of its on-demand views
(their `RequestSource` schemas), the timestamp and the label; a binary label is 0/1 with both
classes, a regression label numeric; timestamps carry a time zone; no two rows share keys and
timestamp. Each problem is one `KeelError` line naming the file, the model and the field.

Features of types Keel cannot model (lists, sets, maps, JSON, structs, bytes, timestamps) are
left out with one warning line; a service with nothing left is refused. The answer is a
`ModelSummary` per model, which training and serving can take as the model's schema.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from feast import FeatureService, FeatureStore
from feast.errors import FeastError
from feast.feature_view import DUMMY_ENTITY_ID
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.types import Bool, Float32, Float64, Int32, Int64, PrimitiveFeastType, String

from keel.core.errors import InvalidInput, InvalidLabels, InvalidProject, UnknownFeatureService
from keel.core.input_files import Column, Kind, check_column, check_unique, read_frame
from keel.core.project import ModelSpec, Project

logger = logging.getLogger(__name__)

FeatureKind = Literal["numeric", "categorical"]
_KINDS: dict[PrimitiveFeastType, FeatureKind] = {
    Int32: "numeric",
    Int64: "numeric",
    Float32: "numeric",
    Float64: "numeric",
    Bool: "numeric",
    String: "categorical",
}
_SERVICE_ROLES = ("join key", "request field")
_COLUMN_KINDS: dict[PrimitiveFeastType, Kind] = {
    Int32: "integer",
    Int64: "integer",
    Float32: "number",
    Float64: "number",
    String: "text",
}


@dataclass(frozen=True)
class Typed:
    """A join key or request field: its name and Feast type (`String`, `Int64`, ...)."""

    name: str
    dtype: str


@dataclass(frozen=True)
class ServiceFeature:
    """One feature of a service: the view it comes from, its Feast type and how Keel models it
    (`kind` None: a type Keel leaves out)."""

    view: str
    name: str
    dtype: str
    kind: FeatureKind | None

    @property
    def ref(self) -> str:
        return f"{self.view}:{self.name}"


@dataclass(frozen=True)
class ServiceSchema:
    """What a feature service needs as input and gives as output, read from Feast's registry."""

    name: str
    join_keys: tuple[Typed, ...]
    request_fields: tuple[Typed, ...]
    features: tuple[ServiceFeature, ...]

    @property
    def usable(self) -> tuple[ServiceFeature, ...]:
        return tuple(f for f in self.features if f.kind is not None)

    @property
    def skipped(self) -> tuple[ServiceFeature, ...]:
        return tuple(f for f in self.features if f.kind is None)


@dataclass(frozen=True)
class LabelStats:
    """The label table in figures: rows, distinct entities, the label's rate or mean, time range."""

    rows: int
    entities: int
    label_rate: float | None
    label_mean: float | None
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass(frozen=True)
class ModelSummary:
    """A model that passed every check: its spec, its service's schema, its label table."""

    model: ModelSpec
    service: ServiceSchema
    labels: LabelStats


def check_project(project: Project, *, names: Sequence[str] | None = None) -> list[ModelSummary]:
    """Every model of `project` (or those in `names`) checked against its Feast registry."""
    models = [project.model(name) for name in names] if names else list(project.models)
    store = open_store(project)
    services = {service.name: service for service in _services(store, project)}
    return [check_model(store, project, model, services=services) for model in models]


def open_store(project: Project) -> FeatureStore:
    """Feast's own `FeatureStore` over the project's repo, as `feast` itself opens it."""
    repo = project.feature_repo
    if not (repo / "feature_store.yaml").is_file():
        raise InvalidProject(
            f"{project.path}: key feature_repo: {repo} holds no feature_store.yaml "
            "(expected a Feast repo, the directory where `feast apply` runs)"
        )
    try:
        return FeatureStore(repo_path=str(repo))
    except (FeastError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidProject(f"{repo / 'feature_store.yaml'}: {first}") from None


def check_model(
    store: FeatureStore,
    project: Project,
    model: ModelSpec,
    *,
    services: Mapping[str, FeatureService] | None = None,
) -> ModelSummary:
    """One model: its service resolved in the registry, its label table checked against it."""
    if services is None:
        services = {service.name: service for service in _services(store, project)}
    service = services.get(model.feature_service)
    if service is None:
        raise UnknownFeatureService(
            f"{project.path}: model {model.name!r}: feature_service {model.feature_service!r} "
            f"is not in the Feast registry of {project.feature_repo} "
            f"(expected one of {', '.join(sorted(services))}; run `feast apply` there after "
            "adding it)"
        )
    schema = service_schema(store, service)
    if schema.skipped:
        logger.warning(
            "model %r: feature service %r: leaving out features Keel cannot model: %s",
            model.name,
            service.name,
            ", ".join(f"{f.ref} ({f.dtype})" for f in schema.skipped),
        )
    if not schema.usable:
        raise InvalidProject(
            f"{project.path}: model {model.name!r}: feature_service {service.name!r} has no "
            "feature Keel can model (numbers, booleans or strings); it holds only "
            + ", ".join(f"{f.ref} ({f.dtype})" for f in schema.skipped)
        )
    return ModelSummary(model=model, service=schema, labels=check_labels(model, schema))


def service_schema(store: FeatureStore, service: FeatureService) -> ServiceSchema:
    """Join keys, request fields and features of `service`, as Feast resolves them."""
    keys: dict[str, Typed] = {}
    request: dict[str, Typed] = {}
    features: list[ServiceFeature] = []
    for projection in service.feature_view_projections:
        view = store.registry.get_any_feature_view(projection.name, store.project, True)
        _add_keys(keys, getattr(view, "entity_columns", ()), projection.join_key_map)
        if isinstance(view, OnDemandFeatureView):
            for source in view.source_feature_view_projections.values():
                upstream = store.registry.get_any_feature_view(source.name, store.project, True)
                _add_keys(keys, getattr(upstream, "entity_columns", ()), source.join_key_map)
            for request_source in view.source_request_sources.values():
                for field in request_source.schema:
                    request.setdefault(field.name, Typed(field.name, str(field.dtype)))
        view_name = projection.name_to_use()
        features += [
            ServiceFeature(view_name, field.name, str(field.dtype), _kind(field.dtype))
            for field in projection.features
        ]
    return ServiceSchema(
        name=service.name,
        join_keys=tuple(keys.values()),
        request_fields=tuple(request.values()),
        features=tuple(features),
    )


def check_labels(model: ModelSpec, schema: ServiceSchema) -> LabelStats:
    """The model's label table checked against its service; `InvalidLabels` names the file,
    the model and the column."""
    frame = read_labels(model, schema)
    keys = [key.name for key in schema.join_keys]
    label, times = frame[model.label], frame[model.timestamp]
    return LabelStats(
        rows=len(frame),
        entities=len(frame.drop_duplicates(keys)) if keys else 0,
        label_rate=float(label.mean()) if model.task == "binary" else None,
        label_mean=float(label.mean()) if model.task == "regression" else None,
        start=times.min(),
        end=times.max(),
    )


def read_labels(model: ModelSpec, schema: ServiceSchema) -> pd.DataFrame:
    """The model's label table, checked (as `check_labels` says) and typed: text keys as text,
    timestamps in UTC; every column of the file kept."""
    where = f"model {model.name!r}: labels {model.labels}"
    try:
        return _checked_labels(model, schema, where=where)
    except InvalidLabels:
        raise
    except InvalidInput as error:
        raise InvalidLabels(error.message) from None


def _checked_labels(model: ModelSpec, schema: ServiceSchema, *, where: str) -> pd.DataFrame:
    frame = read_frame(model.labels, where=where)
    label_kind: Kind = "binary" if model.task == "binary" else "number"
    wanted = [
        *((key.name, "join key", column_kind(key.dtype)) for key in schema.join_keys),
        (model.timestamp, "timestamp", "timestamp"),
        *((f.name, "request field", column_kind(f.dtype)) for f in schema.request_fields),
        (model.label, "label", label_kind),
    ]
    for name, role, _ in wanted:
        if name not in frame.columns:
            of = f" of feature service {schema.name!r}" if role in _SERVICE_ROLES else ""
            raise InvalidLabels(
                f"{where}: missing {role} column {name!r}{of} "
                f"(found {', '.join(map(str, frame.columns[:20]))})"
            )
    text = [name for name, _, kind in wanted if kind == "text"]
    if model.labels.suffix.lower() == ".csv" and text:
        # A CSV has no types: keep text keys as written ('007' stays '007', not the number 7).
        frame = pd.read_csv(model.labels, dtype=dict.fromkeys(text, str))
    for name, _, kind in wanted:
        frame[name] = check_column(frame[name], Column(name, kind), where=where)
    keys = [key.name for key in schema.join_keys]
    check_unique(frame, [*keys, model.timestamp], where=where)
    label = frame[model.label]
    if model.task == "binary" and label.nunique() < 2:
        raise InvalidLabels(
            f"{where}: column {model.label!r} holds only {int(label.iloc[0])}s: "
            "a binary model needs rows of both classes"
        )
    return frame


def _services(store: FeatureStore, project: Project) -> list[FeatureService]:
    services = store.list_feature_services()
    if not services:
        raise InvalidProject(
            f"{project.path}: the Feast registry of {project.feature_repo} holds no feature "
            "service: run `feast apply` in that directory first"
        )
    return services


def _add_keys(keys: dict[str, Typed], columns: Iterable[object], rename: Mapping[str, str]) -> None:
    for column in columns:
        name = str(getattr(column, "name", ""))
        if name and name != DUMMY_ENTITY_ID:
            name = rename.get(name, name)
            keys.setdefault(name, Typed(name, str(getattr(column, "dtype", "?"))))


def _kind(dtype: object) -> FeatureKind | None:
    return _KINDS.get(dtype) if isinstance(dtype, PrimitiveFeastType) else None


def column_kind(dtype: str) -> Kind:
    """How a label-table column holding a Feast type is checked (by the type's name)."""
    by_name = {str(feast_type): kind for feast_type, kind in _COLUMN_KINDS.items()}
    return by_name.get(dtype, "any")

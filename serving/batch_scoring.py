"""Batch scoring (`keel score`): point-in-time features from the offline store, the champion's
scores, every score logged with its model version, and a Parquet file of the results.

Input: the model's join keys as columns (and the request fields of its on-demand views; a field
named `as_of_unix` is the scoring time, `--as-of`), each entity once; other columns are ignored.
Output columns: the join keys, prediction_id, the score (`ScoreTarget.score_column`), label
(binary models), model_name, model_version, as_of (timestamp[us, UTC]), error (null, or why the
entity was not scored). The log records share the request id `batch:<id>` so the batch can be
found in the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from feast import FeatureService, FeatureStore

from keel.core.atomic_files import atomic_path
from keel.core.errors import InvalidInput
from keel.core.input_files import Column, TableSchema, read_input
from keel.core.project import Project, discover_project
from keel.core.provenance import code_commit
from keel.core.settings import Settings
from keel.feast_plumbing.feature_store import open_store, require_feature_service
from serving.ids import new_prediction_id, new_prediction_ids
from serving.model_cache import workspace_model_cache
from serving.online_features import REQUEST_FIELD, stored_feature_names
from serving.prediction_log import PredictionRecord, open_prediction_log
from training.dataset import normalise_entity_frame

TIMESTAMP = "event_timestamp"
Progress = Callable[[int, int], None]
Step = Callable[[str], None]


@dataclass(frozen=True)
class ScoreTarget:
    """What `keel score` scores: a model, the input columns it needs and how its answers are
    named. The built-in example's comes from its short route (`settings.keyed_route`: positive
    integer ids, its score name); a keel.yaml model's from its feature service."""

    model: str
    feature_service: str
    keys: tuple[Column, ...]
    """The join key columns of the input, each checked for its kind."""
    request_fields: tuple[Column, ...] = ()
    """Request fields the input must hold (`as_of_unix` excepted: it is the scoring time)."""
    score_column: str = "probability"
    noun: str = "entity"
    plural: str = "entities"
    positive_ids: bool = False
    """The keys are ids from 1 up (a short route's)."""
    project: Project | None = None
    """The keel.yaml whose Feast repo serves the features; None: the workspace's."""

    @property
    def key_names(self) -> list[str]:
        return [key.name for key in self.keys]


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    model_name: str
    model_version: str
    scored: int
    unknown: int
    output: Path


def score_target(settings: Settings, model: str | None = None) -> ScoreTarget:
    """What `keel score --model` scores: keel.yaml's model `model` (default: its only one), or
    without a keel.yaml the built-in example's (`model` must then be its name or None)."""
    project = discover_project()
    if project is not None:
        return project_target(project, project.model(model).name)
    if model is not None and model != settings.model_name:
        raise InvalidInput(
            f"--model {model!r}: no keel.yaml found (KEEL_CONFIG or ./keel.yaml); without one "
            f"Keel scores its built-in example's model {settings.model_name!r}"
        )
    return keyed_target(settings)


def keyed_target(settings: Settings) -> ScoreTarget:
    """The built-in example's model, scored by the ids of its short route."""
    route = settings.keyed_route
    return ScoreTarget(
        model=route.model,
        feature_service=settings.feature_service,
        keys=(Column(route.key, "integer"),),
        score_column=route.score_field,
        noun=route.noun,
        plural=route.batch_field,
        positive_ids=True,
    )


def project_target(project: Project, name: str) -> ScoreTarget:
    """keel.yaml's model `name`: its feature service's join keys and request fields (typed as
    Feast declares them), `probability` and `label` or `prediction` by its task."""
    from keel.feast_plumbing.project_checks import column_kind, open_store, service_schema

    spec = project.model(name)
    store = open_store(project)
    schema = service_schema(store, require_feature_service(store, spec.feature_service))
    return ScoreTarget(
        model=spec.name,
        feature_service=spec.feature_service,
        keys=tuple(Column(key.name, column_kind(key.dtype)) for key in schema.join_keys),
        request_fields=tuple(
            Column(field.name, column_kind(field.dtype))
            for field in schema.request_fields
            if field.name != REQUEST_FIELD
        ),
        score_column="probability" if spec.task == "binary" else "prediction",
        project=project,
    )


def read_entities(path: Path, target: ScoreTarget) -> pd.DataFrame:
    """`target`'s input columns of a Parquet or CSV file, in file order, each entity once (a
    duplicate is refused: it usually means the file is not the list the user meant);
    `InvalidInput` naming the file and the column."""
    columns = (*target.keys, *target.request_fields)
    frame = read_input(
        path, TableSchema(columns=columns, unique=tuple(target.key_names)), role="--input"
    )
    if target.positive_ids:
        for name in target.key_names:
            ids = frame[name]
            if (ids < 1).any():
                row = int((ids < 1).to_numpy().argmax()) + 1
                raise InvalidInput(
                    f"--input {path}: column {name!r} should hold positive integers, "
                    f"found {int(ids[row - 1])} (row {row})"
                )
    return frame[[column.name for column in columns]].reset_index(drop=True)


def parse_as_of(text: str) -> datetime:
    """`--as-of` as a zone-aware time, or `InvalidInput` naming the option (Keel never guesses a
    zone: the same wall-clock time is a different moment in each)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"--as-of {text!r}: expected an ISO 8601 time with a zone, e.g. 2026-11-30T00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(
            f"--as-of {text!r}: give a time zone, e.g. {moment.isoformat(timespec='minutes')}Z"
        )
    return moment


def _ignore(done: int, total: int) -> None:
    return None


def _no_step(step: str) -> None:
    return None


def score_entities(
    settings: Settings,
    *,
    target: ScoreTarget,
    entities: pd.DataFrame,
    as_of: datetime,
    output: Path,
    chunk_size: int = 2000,
    block_size: int = 250_000,
    on_progress: Progress = _ignore,
    on_step: Step = _no_step,
) -> BatchSummary:
    """Score `entities` (`read_entities`) as of `as_of` with `target`'s champion on `service`'s
    point-in-time features; log every score; write `output`. The features are read in one
    offline-store call per block of `block_size` entities (each call scans the feature tables
    whole; the block bounds memory), then scored and logged `chunk_size` at a time."""
    if as_of.tzinfo is None:
        raise InvalidInput(f"--as-of {as_of.isoformat()}: give a time zone, e.g. ...Z")
    keys = target.key_names
    store = _open_store(settings, target)
    service = require_feature_service(store, target.feature_service)
    stored = stored_feature_names(store, service)
    scoring_time = _check_request_fields(store, service, entities)
    cache = workspace_model_cache(settings, target.model)  # the server's: no pipeline load
    cache.refresh()
    served = cache.current.champion  # type: ignore[union-attr]
    model = served.model
    columns = list(model.feature_columns)
    version = model.version
    batch_id = new_prediction_id()
    commit = code_commit()
    log = open_prediction_log(settings)
    results: list[dict[str, Any]] = []
    total = len(entities)
    on_progress(0, total)  # everything is open: the scoring itself starts
    try:
        for block_start in range(0, total, block_size):
            block = entities.iloc[block_start : block_start + block_size]
            on_step(f"reading point-in-time features for {len(block):,} {target.plural}")
            frame = store.get_historical_features(
                entity_df=_entity_frame(block, as_of, scoring_time), features=service
            ).to_df()
            features = _BlockFeatures(frame, keys, columns, stored)
            on_step("scoring")
            for start in range(0, len(block), chunk_size):
                chunk = block.iloc[start : start + chunk_size]
                ids = list(zip(*(chunk[key].tolist() for key in keys), strict=True))
                known = [i for i in ids if features.known(i)]
                feature_rows = [features.row(i) for i in known]
                scores = served.scorer(feature_rows) if feature_rows else []
                records = [
                    served.record(
                        entity=dict(zip(keys, entity, strict=True)),
                        score=score,
                        features=row,
                        created_at=as_of,
                        code_commit=commit,
                        request_id=f"batch:{batch_id}",
                        served_by="champion",
                        prediction_id=prediction_id,
                    )
                    for entity, row, score, prediction_id in zip(
                        known, feature_rows, scores, new_prediction_ids(len(known)), strict=True
                    )
                ]
                log.append(records)
                by_entity = dict(zip(known, records, strict=True))
                for entity in ids:
                    found = by_entity.get(entity)
                    results.append(
                        _result(target, keys, entity, found, served.task, version, as_of)
                    )
                on_progress(block_start + min(start + chunk_size, len(block)), total)
    finally:
        log.close()
    _write(pd.DataFrame(results), output, target)
    unknown = sum(1 for r in results if r["error"] is not None)
    return BatchSummary(
        batch_id, model.name, model.version, len(results) - unknown, unknown, output
    )


class _BlockFeatures:
    """A block's point-in-time frame, converted once column by column: each entity's position,
    whether any stored feature was found for it, and its model features as plain Python values
    (None where missing), the rows the scorer and the log take."""

    def __init__(
        self, frame: pd.DataFrame, keys: list[str], columns: list[str], stored: list[str]
    ) -> None:
        entity_keys = zip(*(frame[key].tolist() for key in keys), strict=True)
        self._position = {entity: i for i, entity in enumerate(entity_keys)}
        found = [name for name in stored if name in frame.columns]
        self._found = frame[found].notna().any(axis=1).tolist()
        self._columns = columns
        self._values = list(zip(*(_plain_column(frame, name) for name in columns), strict=True))

    def known(self, entity: tuple[Any, ...]) -> bool:
        """Whether Feast found any stored feature for `entity` (some offline stores leave out
        the rows of entities they found nothing for)."""
        position = self._position.get(entity)
        return position is not None and self._found[position]

    def row(self, entity: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(self._columns, self._values[self._position[entity]], strict=True))


def _plain_column(frame: pd.DataFrame, name: str) -> list[Any]:
    """Column `name` as Python values, None where missing or absent from the frame."""
    if name not in frame.columns:
        return [None] * len(frame)
    series = frame[name]
    values = series.astype(object).where(series.notna(), None).tolist()
    if series.dtype == object:  # may hold NumPy scalars
        values = [_plain(value) for value in values]
    return values


def _open_store(settings: Settings, target: ScoreTarget) -> FeatureStore:
    if target.project is None:
        return open_store(settings)
    from keel.feast_plumbing.project_checks import open_store as open_project_store

    return open_project_store(target.project)


def _check_request_fields(
    store: FeatureStore, service: FeatureService, entities: pd.DataFrame
) -> bool:
    """Whether the service reads the scoring time (`as_of_unix`); `InvalidInput` naming any
    other request field the input lacks."""
    from keel.feast_plumbing.project_checks import service_schema

    fields = [field.name for field in service_schema(store, service).request_fields]
    missing = [name for name in fields if name != REQUEST_FIELD and name not in entities]
    if missing:
        raise InvalidInput(
            f"--input: missing request field column(s) {', '.join(map(repr, missing))} of "
            f"feature service {service.name!r}"
        )
    return REQUEST_FIELD in fields


def _entity_frame(chunk: pd.DataFrame, as_of: datetime, scoring_time: bool) -> pd.DataFrame:
    """Feast's entity frame: the chunk's columns, the scoring time and, when the service reads
    it, `as_of_unix`."""
    frame = chunk.reset_index(drop=True).assign(**{TIMESTAMP: as_of})
    if scoring_time:
        frame[REQUEST_FIELD] = int(as_of.timestamp())
    return normalise_entity_frame(frame)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _result(
    target: ScoreTarget,
    keys: list[str],
    entity: tuple[Any, ...],
    record: PredictionRecord | None,
    task: str,
    version: str,
    as_of: datetime,
) -> dict[str, Any]:
    row: dict[str, Any] = dict(zip(keys, entity, strict=True))
    row["prediction_id"] = record.prediction_id if record else None
    row[target.score_column] = record.score if record else None
    if task == "binary":
        row["label"] = record.label if record else None
    row["model_name"] = target.model
    row["model_version"] = version
    row["as_of"] = as_of
    row["error"] = None if record else f"unknown {target.noun}: no features as of this time"
    return row


def _write(frame: pd.DataFrame, output: Path, target: ScoreTarget) -> None:
    types = {target.score_column: "float64"}
    if "label" in frame.columns:
        types["label"] = "Int64"
    frame = frame.astype(types)
    frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True).astype("datetime64[us, UTC]")
    with atomic_path(output) as tmp:
        frame.to_parquet(tmp, index=False)

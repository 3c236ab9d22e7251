"""The hot path: online features -> the entity's model version (A/B) -> log records -> answers.

`Predictor.predict` is synchronous and does no I/O except the online-store read; the caller
commits `Scored.records` to the prediction log before it answers. Each record names the features
that break its version's reference expectations (`violations`): flagged, still answered.
An entity is a mapping of the feature service's join keys (and request fields) to values.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from keel.core.errors import InvalidInput, KeelError, ModelNotReady, UnknownEntity
from serving.ids import new_prediction_ids
from serving.model_cache import ModelCache, ModelSet, ServedModel
from serving.online_features import Features, FeatureSource
from serving.prediction_log import PredictionRecord, ServedBy, entity_key

EXPLAIN_TOP = 5
Entity = Mapping[str, Any]


def challenger_bucket(entity_id: Any, share: float) -> bool:
    """True for a sticky `share` of entities: a stable hash of the id (a single join key's
    value, or the canonical JSON of several), not Python's `hash`."""
    digest = hashlib.blake2b(str(entity_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


def _plain(value: Any) -> Any:
    """JSON-safe values for the log and the response (NaN becomes null)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _plain_features(features: Features) -> Features:
    """The features as logged: the source's own dict (a source builds one per entity and
    never changes it), or a copy with None for NaN when it holds one."""
    for value in features.values():
        if type(value) is float and value != value:
            return {name: _plain(value) for name, value in features.items()}
    return features


def describe_entity(entity: Mapping[str, Any]) -> str:
    """`driver_id 1001`, `courier_id 'c1', zone_id 'z2'`: an entity in an error message."""
    return ", ".join(f"{key} {value!r}" for key, value in entity.items())


@dataclass(frozen=True)
class Prediction:
    record: PredictionRecord
    missing_features: list[str]
    explanation: list[tuple[str, float]] | None = None


@dataclass(frozen=True)
class ItemError:
    entity: dict[str, Any]
    """The join keys of the entity that could not be answered."""
    error: KeelError


@dataclass(frozen=True)
class Scored:
    answers: list[Prediction | ItemError]
    records: list[PredictionRecord]
    """Everything to log: the answers' records, then shadow records."""


class Predictor:
    """Scores entities with the cached models and builds the log records of the answers."""

    def __init__(
        self,
        models: ModelCache,
        features: FeatureSource,
        *,
        code_commit: str,
        challenger_share: float = 0.0,
        shadow: bool = False,
        entity_noun: str = "entity",
    ) -> None:
        self.models = models
        self.features = features
        self.entity_noun = entity_noun
        """What an entity is called in messages (`unknown entity`)."""
        self._code_commit = code_commit
        self._share = challenger_share
        self._shadow = shadow

    @property
    def name(self) -> str:
        """The registered model served."""
        return self.models.name

    def model_set(self) -> ModelSet:
        current = self.models.current
        if current is None:
            name = self.models.name
            raise ModelNotReady(
                f"model {name}: no champion loaded yet: train one with `keel train`, or "
                f"`keel models promote {name}/<version> --alias champion`, then retry"
            )
        return current

    def predict(
        self,
        entities: Sequence[Entity],
        *,
        as_of_unix: int | None = None,
        explain: bool = False,
        request_id: str | None = None,
        request_ids: Sequence[str | None] | None = None,
    ) -> Scored:
        """Score `entities` (answers in that order); `request_ids` gives one request id per
        entity when several requests are scored together."""
        models = self.model_set()
        ids = list(request_ids) if request_ids is not None else [request_id] * len(entities)
        keys = self.features.join_keys
        values = self.features.get_rows(entities, as_of_unix=as_of_unix)
        now = datetime.now(UTC)
        groups: dict[ServedBy, list[tuple[int, dict[str, Any], Features]]] = {}
        answers: list[Prediction | ItemError | None] = []
        for i, (entity, features) in enumerate(zip(entities, values, strict=True)):
            joined = {key: entity[key] for key in keys}
            if features is None:
                answers.append(ItemError(joined, _unknown(joined, self.entity_noun)))
                continue
            answers.append(None)
            role: ServedBy = "champion"
            if models.challenger and challenger_bucket(_bucket_id(joined, keys), self._share):
                role = "challenger"
            groups.setdefault(role, []).append((i, joined, features))
        shadow_records: list[PredictionRecord] = []
        for role, members in groups.items():
            served = models.champion if role == "champion" else models.challenger
            assert served is not None
            for i, prediction in zip(
                (m[0] for m in members),
                self._score(served, role, members, now, ids, explain),
                strict=True,
            ):
                answers[i] = prediction
            if self._shadow and role == "champion" and models.challenger is not None:
                shadow = self._score(models.challenger, "shadow", members, now, ids, False)
                shadow_records += [p.record for p in shadow]
        done = [a for a in answers if a is not None]
        records = [a.record for a in done if isinstance(a, Prediction)]
        return Scored(done, records + shadow_records)

    def _score(
        self,
        served: ServedModel,
        role: ServedBy,
        members: list[tuple[int, dict[str, Any], Features]],
        now: datetime,
        request_ids: list[str | None],
        explain: bool,
    ) -> list[Prediction]:
        rows = [features for _, _, features in members]
        scores = served.scorer(rows)
        explanations: list[list[tuple[str, float]] | None] = [None] * len(rows)
        if explain:
            explanations = list(_explain(served, rows))
        columns = served.model.feature_columns
        out = []
        for (i, entity, features), score, explanation, prediction_id in zip(
            members, scores, explanations, new_prediction_ids(len(rows)), strict=True
        ):
            logged = _plain_features(features)
            record = served.record(
                entity=entity,
                score=score,
                features=logged,
                created_at=now,
                code_commit=self._code_commit,
                request_id=request_ids[i],
                served_by=role,
                prediction_id=prediction_id,
            )
            missing = [name for name in columns if logged.get(name) is None]
            out.append(Prediction(record, missing, explanation))
        return out


def _bucket_id(joined: dict[str, Any], keys: Sequence[str]) -> Any:
    """What the A/B bucket hashes: the one join key's value, or the keys' canonical JSON."""
    return joined[keys[0]] if len(keys) == 1 else entity_key(joined)


def _unknown(entity: Mapping[str, Any], noun: str) -> UnknownEntity:
    return UnknownEntity(f"{describe_entity(entity)} has no online features: unknown {noun}")


def _explain(served: ServedModel, rows: list[Features]) -> list[list[tuple[str, float]]]:
    from training.explain import linear_contributions, top_contributions  # only to explain

    columns = served.model.feature_columns
    frame = pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=columns)
    try:
        contributions = linear_contributions(served.model.pipeline, frame)
    except InvalidInput as error:
        raise InvalidInput(
            f"explain: model {served.model.name} v{served.model.version} is not linear "
            f'({error.message}); retry without "explain"'
        ) from None
    return [
        top_contributions(contributions.iloc[i], EXPLAIN_TOP) for i in range(len(contributions))
    ]

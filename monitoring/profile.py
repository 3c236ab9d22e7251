"""The reference profile: a summary of the training features and scores, stored with the model.

Numbers keep type, null rate, min/max, mean/std, a quantile sketch (percentiles) and decile
bins with their reference frequencies; categories keep their frequencies (the 100 most
frequent, the rest pooled as `OTHER`). Everything monitoring compares against comes from here,
never from raw training rows, so the profile is small (kilobytes) and holds no row.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from keel.core.errors import InvalidInput, ModelNotFound
from keel.core.settings import Settings
from monitoring.ageing import reference_time
from monitoring.drift_stats import bin_edges, bin_frequencies, quantile_sketch

PROFILE_ARTIFACT_DIR = "monitoring"
PROFILE_FILE = "reference_profile.json"
PROFILE_ARTIFACT = f"{PROFILE_ARTIFACT_DIR}/{PROFILE_FILE}"
SCORE = "score"
OTHER = "__other__"
MAX_CATEGORIES = 100
FORMAT_VERSION = 2
"""2 added `FeatureProfile.grows_per_day` and `ReferenceProfile.as_of`; 1 still loads."""

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class FeatureProfile:
    """One feature (or the score) of the reference."""

    name: str
    kind: Kind
    rows: int
    null_rate: float
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: list[float] = field(default_factory=list)
    bin_edges: list[float] = field(default_factory=list)
    bin_frequencies: list[float] = field(default_factory=list)
    categories: dict[str, float] = field(default_factory=dict)
    grows_per_day: float | None = None
    """Declared growth per day of an unchanged entity's value (a tenure: 1), else None."""

    @property
    def present(self) -> int:
        """How many reference values were not null."""
        return round(self.rows * (1.0 - self.null_rate))


@dataclass(frozen=True)
class ReferenceProfile:
    """Every model input's profile, in the model's feature order, plus the score's."""

    features: dict[str, FeatureProfile]
    score: FeatureProfile | None
    rows: int
    created_at: str
    format_version: int = FORMAT_VERSION
    as_of: str | None = None
    """Median time of the reference rows (ISO 8601), what growing features are aged from."""

    @property
    def names(self) -> list[str]:
        return list(self.features)

    def to_json(self) -> str:
        payload = asdict(self)
        payload["features"] = [asdict(f) for f in self.features.values()]
        return json.dumps(payload, indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        try:
            payload = json.loads(text)
            features = {f["name"]: FeatureProfile(**f) for f in payload["features"]}
            score = FeatureProfile(**payload["score"]) if payload.get("score") else None
            return cls(
                features=features,
                score=score,
                rows=int(payload["rows"]),
                created_at=str(payload["created_at"]),
                format_version=int(payload.get("format_version", FORMAT_VERSION)),
                as_of=payload.get("as_of"),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidInput(f"not a Keel reference profile: {error}") from error

    def save(self, path: Path) -> Path:
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> ReferenceProfile:
        if not path.exists():
            raise InvalidInput(f"{path}: reference profile not found")
        return cls.from_json(path.read_text(encoding="utf-8"))


def feature_kind(series: pd.Series) -> Kind:
    """Numbers (not booleans) are numeric; text, booleans and categoricals are categorical."""
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return "categorical"
    return "numeric"


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


def profile_numeric(name: str, series: pd.Series) -> FeatureProfile:
    """Summary of a numeric column (NaN and None count as null)."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = values[~np.isnan(values)]
    null_rate = 1.0 - len(present) / len(values) if len(values) else 0.0
    if len(present) == 0:
        return FeatureProfile(name=name, kind="numeric", rows=len(values), null_rate=null_rate)
    edges = bin_edges(present)
    integer = pd.api.types.is_integer_dtype(series) or bool(np.all(present == np.round(present)))
    return FeatureProfile(
        name=name,
        kind="numeric",
        rows=len(values),
        null_rate=null_rate,
        integer=integer,
        minimum=float(present.min()),
        maximum=float(present.max()),
        mean=_finite(present.mean()),
        std=_finite(present.std()),
        quantiles=[float(q) for q in quantile_sketch(present)],
        bin_edges=[float(e) for e in edges],
        bin_frequencies=[float(f) for f in bin_frequencies(present, edges)],
    )


def profile_categorical(name: str, series: pd.Series) -> FeatureProfile:
    """Frequencies of the non-null values (as text); beyond `MAX_CATEGORIES`, pooled."""
    present = series.dropna().astype(str)
    null_rate = 1.0 - len(present) / len(series) if len(series) else 0.0
    shares = present.value_counts(normalize=True)
    kept = {str(k): float(v) for k, v in shares.head(MAX_CATEGORIES).items()}
    rest = float(shares.iloc[MAX_CATEGORIES:].sum())
    if rest > 0:
        kept[OTHER] = rest
    return FeatureProfile(
        name=name, kind="categorical", rows=len(series), null_rate=null_rate, categories=kept
    )


def profile_column(name: str, series: pd.Series) -> FeatureProfile:
    if feature_kind(series) == "numeric":
        return profile_numeric(name, series)
    return profile_categorical(name, series)


def build_reference_profile(
    frame: pd.DataFrame,
    features: list[str],
    scores: np.ndarray | None,
    *,
    grows_per_day: Mapping[str, float] | None = None,
) -> ReferenceProfile:
    """Profile `features` of `frame` (the training frame) and the model's `scores` on it;
    `grows_per_day` names the features that grow with time (`monitoring.ageing`)."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise InvalidInput(f"training frame lacks feature column(s) {', '.join(missing)}")
    if frame.empty:
        raise InvalidInput("cannot profile an empty training frame")
    growth = dict(grows_per_day or {})
    profiles = {name: profile_column(name, frame[name]) for name in features}
    for name, rate in growth.items():
        if name in profiles and profiles[name].kind == "numeric":
            profiles[name] = replace(profiles[name], grows_per_day=float(rate))
    score = None
    if scores is not None:
        score = profile_numeric(SCORE, pd.Series(np.asarray(scores, dtype=float)))
    return ReferenceProfile(
        features=profiles,
        score=score,
        rows=len(frame),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        as_of=reference_time(frame),
    )


def log_reference_profile(profile: ReferenceProfile) -> None:
    """Log the profile to the active MLflow run as `monitoring/reference_profile.json`."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = profile.save(Path(tmp) / PROFILE_FILE)
        mlflow.log_artifact(str(path), artifact_path=PROFILE_ARTIFACT_DIR)


def load_reference_profile(settings: Settings, model_ref: str) -> ReferenceProfile:
    """The profile stored with the model version `model_ref` names (`eta@champion`, ...)."""
    from mlflow.exceptions import MlflowException

    from registry.client import mlflow_client
    from registry.refs import parse_ref, resolve_ref

    client = mlflow_client(settings)
    version = resolve_ref(client, parse_ref(model_ref))
    if not version.run_id:
        raise ModelNotFound(f"{model_ref} (version {version.version}) has no run to read from")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(version.run_id, PROFILE_ARTIFACT, tmp)
        except (MlflowException, OSError) as error:
            raise ModelNotFound(
                f"{model_ref} (version {version.version}, run {version.run_id}) has no "
                f"{PROFILE_ARTIFACT}: retrain with a Keel that logs it, or pass --reference FILE"
            ) from error
        return ReferenceProfile.load(Path(local))

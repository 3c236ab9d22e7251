"""Reading monitoring inputs (Parquet windows, prediction-log exports) with errors that name
the file and the column; anything wrong here is a bad file (exit code 2), not a violation."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from feature_repo.example import SCORE_COLUMN
from keel.core.errors import InvalidInput
from keel.core.input_files import check_timestamps
from monitoring.profile import ReferenceProfile

PREDICTION_COLUMNS = ("created_at", "score", "label", "model_version", "outcome")
SCORE = "score"
OLD_SCORE = SCORE_COLUMN
"""The score column of exports written before the log was generic."""


def with_score(frame: pd.DataFrame) -> pd.DataFrame:
    """An export of an older Keel (score column `OLD_SCORE`) with its score named `score`."""
    if SCORE not in frame.columns and OLD_SCORE in frame.columns:
        return frame.rename(columns={OLD_SCORE: SCORE})
    return frame


def read_parquet(path: Path, *, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The file as a DataFrame; `InvalidInput` naming the file (and any missing column)."""
    if not path.exists():
        raise InvalidInput(f"{path}: file not found")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as error:
        raise InvalidInput(f"{path}: not a Parquet file ({error})") from None
    wanted = list(columns) if columns is not None else None
    if wanted is not None:
        missing = [c for c in wanted if c not in schema.names]
        if missing:
            raise InvalidInput(f"{path}: missing column(s) {', '.join(missing)}")
    for field in schema:
        if wanted is not None and field.name not in wanted:
            continue
        if pa.types.is_nested(field.type) or pa.types.is_binary(field.type):
            raise InvalidInput(f"{path}: column {field.name} has unsupported type {field.type}")
    try:
        return pq.read_table(path, columns=wanted).to_pandas()
    except (pa.ArrowException, OSError) as error:
        raise InvalidInput(f"{path}: cannot read ({error})") from None


def of_model(frame: pd.DataFrame, path: Path, model: str | None) -> pd.DataFrame:
    """A prediction-log export's rows of `model` (a file without `model_name` is taken as
    it is); `InvalidInput` when the export holds none of them."""
    if model is None or "model_name" not in frame.columns:
        return frame
    mine = frame[frame["model_name"] == model].reset_index(drop=True)
    if mine.empty and not frame.empty:
        held = ", ".join(sorted(set(frame["model_name"].astype(str))))
        raise InvalidInput(f"{path}: column model_name has no rows of model {model} (found {held})")
    return mine


def read_window(path: Path, profile: ReferenceProfile, *, model: str | None = None) -> pd.DataFrame:
    """A current window: every profiled feature must be a column of a compatible type (text
    holding numbers where the profile has numbers is refused, naming the column). In a
    prediction-log export, shadow rows repeat a request's features and are left out, and only
    the rows of `model` (when given) are kept."""
    frame = of_model(with_score(read_parquet(path)), path, model)
    if "served_by" in frame.columns:
        frame = frame[frame["served_by"] != "shadow"].reset_index(drop=True)
    missing = [name for name in profile.features if name not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{path}: missing feature column(s) {', '.join(missing)} "
            f"(the model's features: {', '.join(profile.features)})"
        )
    if frame.empty:
        raise InvalidInput(f"{path}: no rows")
    for name, feature in profile.features.items():
        column = frame[name]
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if feature.kind == "numeric" and not numeric and column.notna().any():
            raise InvalidInput(
                f"{path}: column {name} should hold numbers, found {column.dtype} "
                f"(e.g. {column.dropna().iloc[0]!r})"
            )
    return frame


def read_predictions(path: Path, *, model: str | None = None) -> pd.DataFrame:
    """A prediction-log export (`keel predictions export`) of one model (only `model`'s rows
    when given), with the columns performance needs; its `task` says which figures apply."""
    frame = of_model(with_score(read_parquet(path)), path, model)
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{path}: missing column(s) {', '.join(missing)}: expected a prediction-log export "
            "(`keel predictions export --out F.parquet`)"
        )
    frame["created_at"] = check_timestamps(frame["created_at"], name="created_at", where=str(path))
    one_model = "(export one with `keel predictions export --model NAME --out F.parquet`)"
    if "model_name" in frame.columns and frame["model_name"].nunique() > 1:
        raise InvalidInput(
            f"{path}: column model_name holds several models; performance is per model " + one_model
        )
    if "task" in frame.columns and frame["task"].nunique() > 1:
        raise InvalidInput(
            f"{path}: column task holds several tasks {sorted(set(frame['task']))} {one_model}"
        )
    return frame


def predictions_task(frame: pd.DataFrame) -> str:
    """`binary` or `regression`: the export's `task` (an export without one is binary)."""
    if "task" in frame.columns and len(frame):
        return str(frame["task"].iloc[0])
    return "binary"

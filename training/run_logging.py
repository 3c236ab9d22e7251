"""What every training run logs to MLflow besides metrics: the exact training frame, the dataset
input, the fitted pipeline with its signature and pins, and the nested run of each candidate.

Through Feast's MLflow integration (`store.mlflow`, which adds `feast_features.json` and Feast's
lineage tags) when the Feast repo enables it on Keel's tracking URI, else through MLflow itself.
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import mlflow.data.pandas_dataset
import pandas as pd
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from training.models import SKOPS_TRUSTED_TYPES

MODEL_ARTIFACT = "model"
MAX_LOGGED_FRAME_ROWS = 2_000_000


def feast_integration(store: Any, tracking_uri: str) -> Any | None:
    """Feast's MLflow client of `store` if its repo enables one that logs where Keel does."""
    integration = store.mlflow
    if integration is None:
        return None
    return integration if store.config.mlflow.get_tracking_uri() == tracking_uri else None


def model_requirements() -> list[str]:
    """The model's runtime pins, from this environment: stated rather than inferred (MLflow's
    inference loads the model in a subprocess and costs seconds per run)."""
    names = ("scikit-learn", "skops", "numpy", "scipy", "pandas")
    return [f"{name}=={importlib.metadata.version(name)}" for name in names]


def log_frame(frame: pd.DataFrame) -> None:
    """The exact training frame as a Parquet artifact, so a version leads back to its data."""
    if len(frame) > MAX_LOGGED_FRAME_ROWS:
        mlflow.set_tag("keel.training_frame", "not logged: larger than the artifact limit")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "training_frame.parquet"
        frame.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path="datasets")


def log_dataset(integration: Any | None, frame: pd.DataFrame, *, name: str) -> None:
    """The training frame as the parent run's MLflow dataset input (name, digest, schema)."""
    if integration is not None:
        integration.log_training_dataset(frame, dataset_name=name)
        return
    source = "feast.get_historical_features"
    dataset = mlflow.data.pandas_dataset.from_pandas(frame, name=name, source=source)
    mlflow.log_input(dataset, context="training")


def log_pipeline(
    integration: Any | None,
    model: Pipeline,
    frame: pd.DataFrame,
    features: list[str],
    *,
    probability: bool,
) -> None:
    """Log the fitted pipeline under `MODEL_ARTIFACT` of the active run, with a signature whose
    output is the probability of class 1 (`probability`) or the prediction."""
    # Integer features as doubles in the schema: a served value may be missing.
    example = (
        frame[features]
        .head(5)
        .astype({c: "float64" for c in features if pd.api.types.is_integer_dtype(frame[c])})
    )
    output = model.predict_proba(example)[:, 1] if probability else model.predict(example)
    kwargs: dict[str, Any] = {
        "signature": infer_signature(example, output),
        "input_example": example,
        "skops_trusted_types": SKOPS_TRUSTED_TYPES,
        "pip_requirements": model_requirements(),
    }
    if integration is not None:
        integration.log_model(model, MODEL_ARTIFACT, **kwargs)
    else:
        mlflow.sklearn.log_model(model, name=MODEL_ARTIFACT, **kwargs)

"""The compiled scorer of a registered version, logged as an artifact of its MLflow model.

At registration, training compiles the version's fast scorer (`serving.scoring.choose_scorer`,
proven equal to the pipeline on its probe rows) and logs it with `serving.scorer_files.save`'s
files under `ARTIFACT_DIR` of the version's logged model. A server downloads it with the model
files and starts from it without scikit-learn, skops or a compile (`serving.model_files_cache`);
it still proves it on the probe rows and compiles at load when it is missing or stale. A pipeline
without a proven fast path logs nothing (it is served through scikit-learn anyway).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from serving import scorer_files
from serving.scorer_files import ARTIFACT_DIR
from serving.scoring import choose_scorer

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)


def log_compiled_scorer(client: MlflowClient, name: str, version: str, pipeline: Pipeline) -> bool:
    """Compile `pipeline` (registered as `name` version `version`) and log its scorer with the
    version's model files; False, with the reason logged, when there is nothing to log or the
    artifact store refused it (the version is registered already: a server then compiles at
    load, as for a version trained before scorer artifacts, instead of training failing here)."""
    try:
        return _log_compiled_scorer(client, name, version, pipeline)
    except Exception as error:  # any failure: serving compiles at load
        logger.warning(
            "model %s v%s: compiled scorer not logged (%s: %s); a server compiles it at load",
            name,
            version,
            type(error).__name__,
            error,
        )
        return False


def _log_compiled_scorer(client: MlflowClient, name: str, version: str, pipeline: Pipeline) -> bool:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    label = f"model {name} v{version}"
    columns = [str(c) for c in getattr(pipeline, "feature_names_in_", [])]
    choice = choose_scorer(pipeline, columns, name=label)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / ARTIFACT_DIR
        if not scorer_files.save(directory, choice, columns):
            logger.info("%s: no compiled scorer to log (%s)", label, choice.describe())
            return False
        location = client.get_model_version_download_uri(name, version)  # what serving downloads
        get_artifact_repository(location).log_artifacts(str(directory), ARTIFACT_DIR)
    logger.debug("%s: compiled scorer (%s) logged with the model", label, choice.path)
    return True

"""The serving API, built by `create_app(settings)`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from keel.feature_store import open_store
from keel.provenance import code_commit
from keel.settings import Settings
from keel.workspace import Workspace
from registry.client import mlflow_client
from registry.models import CHAMPION, load_alias
from serving.errors import install_error_handlers
from serving.online_features import OnlineFeatures
from serving.prediction_log import PredictionLog
from serving.predictor import Predictor
from serving.routes import router

logger = logging.getLogger(__name__)


def build_predictor(settings: Settings, log: PredictionLog) -> Predictor:
    """Load the champion once and open the online store and the prediction log."""
    model = load_alias(mlflow_client(settings), settings.model_name, CHAMPION)
    features = OnlineFeatures(open_store(settings), settings.feature_service)
    logger.info("serving %s version %s (%s)", model.name, model.version, CHAMPION)
    return Predictor(model, features, log, code_commit=code_commit())


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app; the model is loaded at start-up, not per request."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log = PredictionLog(Workspace.from_settings(settings).prediction_log)
        app.state.predictor = build_predictor(settings, log)
        try:
            yield
        finally:
            log.close()

    app = FastAPI(title="Keel serving API", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(router)
    return app

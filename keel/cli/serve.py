"""`keel serve`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from keel.cli.common import user_errors
from keel.settings import get_settings


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes (default KEEL_WORKERS).")
    ] = None,
) -> None:
    """Serve predictions of the champion model over HTTP (features + model + log, one hop)."""
    import uvicorn

    from serving.app import create_app

    settings = get_settings()
    count = workers or settings.workers
    with user_errors():
        app = create_app(settings)  # refuses unsafe settings before binding the port
        if count == 1:
            uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
        else:
            from serving.metrics import worker_metrics_directory

            # The workers build their app from the environment: tell them how many they are.
            os.environ["KEEL_WORKERS"] = str(count)
            with worker_metrics_directory():
                uvicorn.run(
                    "serving.app:app_from_environment",
                    factory=True,
                    host=host,
                    port=port,
                    workers=count,
                    log_level="warning",
                    access_log=False,
                )

"""`keel serve`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from keel.cli.common import console, user_errors
from keel.cli.quiet import NOISY_LOGGERS
from keel.core.settings import get_settings

WORKER_APP = "serving.server_entry:worker_app"
"""The app factory each of several workers imports: it turns typeguard off before Feast loads."""


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes (default KEEL_WORKERS).")
    ] = None,
) -> None:
    """Serve predictions of each model's champion over HTTP (features + model + log, one hop):
    every model of keel.yaml, or the churn example's without one."""
    import uvicorn  # Feast loads without typeguard: the CLI start-up callback switched it off

    from keel.core.redaction import uvicorn_log_config
    from keel.ops.production_checks import refuse_insecure_production
    from keel.ops.server_process import check_can_bind, check_servable
    from serving.app import create_app

    settings = get_settings()
    count = workers or settings.workers
    # Every worker applies this config: uvicorn's handlers and the root's redact secrets.
    log_config = uvicorn_log_config(quiet=NOISY_LOGGERS)  # as the CLI's own process
    with user_errors():
        refuse_insecure_production(settings)
        app = create_app(settings)  # refuses unsafe settings before anything is contacted
        check_can_bind(host, port)
        check_servable(settings)
        console.print(f"serving on {base_url(host, port)} (docs /docs)", highlight=False)
        if count == 1:
            uvicorn.run(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                log_config=log_config,
            )
        else:
            from serving.metrics import worker_metrics_directory

            # The workers build their app from the environment: tell them how many they are.
            os.environ["KEEL_WORKERS"] = str(count)
            with worker_metrics_directory():
                uvicorn.run(
                    WORKER_APP,
                    factory=True,
                    host=host,
                    port=port,
                    workers=count,
                    log_level="warning",
                    access_log=False,
                    log_config=log_config,
                )


def base_url(host: str, port: int) -> str:
    """The URL a client uses: an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

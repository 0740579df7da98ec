"""``genlab serve``: the REST API over trained runs (:mod:`genlab.serve`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from genlab.core.console import console

SETTINGS_ENV = "GENLAB_SERVE_SETTINGS"  # the settings of each worker process when --workers > 1


def serve_cmd(
    paths: list[Path] = typer.Argument(None, help="runs folders, runs or model directories (default: the runs dir)"),
    host: str = typer.Option("127.0.0.1", help="address to listen on; anything but loopback needs --token-file"),
    port: int = typer.Option(8000, help="TCP port"),
    token_file: Path | None = typer.Option(None, help="file holding the bearer token every /v1 request must send"),
    max_batch: int = typer.Option(32, help="most requests answered by one batched model call"),
    max_wait_ms: float = typer.Option(10.0, help="how long a batch waits for more requests, ms"),
    max_queue: int = typer.Option(256, help="requests waiting at most; more are answered 503 with Retry-After"),
    timeout: float = typer.Option(120.0, help="time limit of one request, seconds (then 504)"),
    max_n: int = typer.Option(256, help="largest n (samples) one request may ask for"),
    max_upload_mb: float = typer.Option(20.0, help="largest request body or uploaded file, MiB"),
    threads: int | None = typer.Option(None, help="torch threads (default: torch's own)"),
    workers: int = typer.Option(1, help="server processes (each loads the models it serves)"),
    cors_origin: list[str] = typer.Option(None, help="an origin allowed by CORS (repeatable; default none)"),
    reload_interval: float = typer.Option(2.0, help="seconds between looks for new, retrained or removed runs"),
    log_level: str = typer.Option("info", help="uvicorn log level"),
    studio: bool = typer.Option(False, "--studio", help="also serve the web studio at /studio"),
) -> None:
    """serve the pipelines of trained runs over HTTP (REST + server-sent events)"""
    from genlab.core.optional import require
    from genlab.core.runs import runs_root
    from genlab.serve.settings import ServeSettings, read_token_file

    uvicorn = require("uvicorn", "serve", "genlab serve")
    settings = ServeSettings.build({
        "paths": [str(p) for p in paths] if paths else [str(runs_root(None))],
        "host": host, "port": port, "token": read_token_file(token_file) if token_file else None,
        "max_batch": max_batch, "max_wait_ms": max_wait_ms, "max_queue": max_queue, "timeout_s": timeout,
        "max_n": max_n, "max_upload_mb": max_upload_mb, "threads": threads, "workers": workers,
        "cors_origins": list(cors_origin or []), "reload_interval_s": reload_interval,
    }, where="genlab serve")  # fmt: skip
    pages = "API docs: /docs" + (", studio: /studio" if studio else "")
    console.print(f"serving {', '.join(settings.paths)} on http://{host}:{port}  ({pages})")
    _access_log_to_stderr()
    common = {"host": host, "port": port, "log_level": log_level, "timeout_graceful_shutdown": int(timeout),
              "access_log": False}  # fmt: skip
    if workers > 1:  # each process builds its app from the settings in the environment
        os.environ[SETTINGS_ENV] = json.dumps({**settings.model_dump(), "studio": studio})
        uvicorn.run("genlab.cli.serve:app_from_env", factory=True, workers=workers, **common)
        return
    uvicorn.run(build_app(settings, studio), **common)


def build_app(settings, studio: bool = False):
    """The REST app of ``settings``, with the studio mounted at /studio when asked."""
    from genlab.serve import create_app

    app = create_app(settings)
    if studio:
        from genlab.studio import mount

        mount(app, app.state.server.store, "/studio", runs_dir=settings.paths[0], token=settings.token)
    return app


def _access_log_to_stderr() -> None:
    """One JSON line per request on standard error (method, path, status, milliseconds, client)."""
    import logging
    import sys

    logger = logging.getLogger("genlab.serve.access")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def app_from_env():
    """The app of one worker process of ``genlab serve --workers N``."""
    from genlab.serve.settings import ServeSettings

    _access_log_to_stderr()
    values = json.loads(os.environ[SETTINGS_ENV])
    studio = bool(values.pop("studio", False))
    return build_app(ServeSettings.build(values, where="genlab serve"), studio)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)

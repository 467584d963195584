"""`policyqa serve`: the REST API and, in the same process over the same engine, the chat UI at /ui."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.app import create_app as create_api
from api.security import check_bind
from rag.runtime import Runtime
from rag.settings import Settings
from ui.app import mount_ui


def create_app(settings: Settings, engine: Runtime | None = None, *, embedder: Any | None = None) -> FastAPI:
    """The API, with the chat UI mounted at /ui unless settings.ui_enabled is off."""
    app = create_api(settings, engine, embedder=embedder)
    if settings.ui_enabled:
        mount_ui(app, settings)
    return app


def app_from_env() -> FastAPI:
    """The app as configured by the environment: what each worker process builds under `serve --workers N`."""
    return create_app(Settings())


class SeveralWorkersNeedServer(ValueError):
    """`--workers N` with the embedded store: Chroma's embedded mode is single-process."""


def serve(settings: Settings, *, log_level: str = "info", workers: int = 1) -> None:
    """Run the API under uvicorn on settings.host:settings.port (refusing an open non-loopback bind).

    With workers > 1, uvicorn starts that many processes on one socket; each builds the app from the
    environment (so `settings` must be what the environment says) and follows the others' writes through
    the store's generation. That needs a Chroma server: the embedded store belongs to one process."""
    import uvicorn

    check_bind(settings)
    common: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": log_level,
                              "proxy_headers": False, "server_header": False, "timeout_graceful_shutdown": 10}
    if workers <= 1:
        uvicorn.run(create_app(settings), **common)
        return
    if not settings.chroma_host:
        raise SeveralWorkersNeedServer(
            "--workers above 1 needs a Chroma server (set POLICYQA_CHROMA_HOST and POLICYQA_CHROMA_PORT): "
            "the embedded store can only be opened by one process")
    uvicorn.run("policyqa.serve:app_from_env", factory=True, workers=workers, **common)

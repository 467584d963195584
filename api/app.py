"""The FastAPI application factory and the `serve` entry point."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from api.errors import install_error_handlers
from api.lifecycle import EngineSlot, lifespan
from api.limits import MAX_JSON_BYTES, MULTIPART_OVERHEAD, BodyLimitMiddleware
from api.metrics import ApiMetrics, MetricsMiddleware
from api.openapi import finish_openapi
from api.routes import ask, documents, health, openai_compat, search
from api.security import KeyRing, RateLimiter, check_bind
from rag.runtime import Runtime
from rag.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Hỏi đáp có trích dẫn trên văn bản hành chính và pháp luật Việt Nam (question answering with verified
citations over Vietnamese government documents).

* **Auth**: `Authorization: Bearer <key>` with keys from `POLICYQA_API_KEYS` (`key:reader`, `key:admin`).
  With no keys configured the server only runs on loopback and everything is open.
* **Errors** are RFC 9457 `application/problem+json`.
* **Streaming**: `POST /v1/ask` with `Accept: text/event-stream` (or `"stream": true`) sends typed events.
"""


def create_app(
    settings: Settings | None = None, engine: Runtime | None = None, *, embedder: Any | None = None
) -> FastAPI:
    """Build the app; the lifespan loads the embedder (unless given) and opens the store (unless an engine is
    injected)."""
    settings = settings or get_settings()
    check_bind(settings)
    keys = KeyRing(settings)  # parses POLICYQA_API_KEYS: a malformed entry fails here, at startup
    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from the package, not from a CDN.
    app = FastAPIOffline(
        title="policyqa",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "ask"},
            {"name": "search"},
            {"name": "documents"},
            {"name": "openai"},
            {"name": "health"},
        ],
    )
    app.state.settings = settings
    app.state.keys = keys
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.metrics = ApiMetrics()
    app.state.engine_slot = EngineSlot(settings, engine=engine, embedder=embedder)
    app.state.engine = engine
    install_error_handlers(app)
    for module in (ask, search, documents, openai_compat, health):
        app.include_router(module.router)
    # Middleware added last runs first: metrics see every response, including 413s from the body limit.
    app.add_middleware(
        BodyLimitMiddleware,
        json_limit=MAX_JSON_BYTES,
        upload_limit=settings.max_upload_bytes + MULTIPART_OVERHEAD,
        upload_path="/v1/documents",
    )
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # CORS stays off unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    finish_openapi(app, settings, open_mode=keys.open)
    if settings.ui_enabled:
        from ui.app import mount_ui  # the chat UI in the same process, over the same engine

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
    uvicorn.run("api.app:app_from_env", factory=True, workers=workers, **common)

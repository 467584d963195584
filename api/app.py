"""The FastAPI application factory: the REST API alone (the command line's `serve` adds the chat UI)."""

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
from api.routes import answers, ask, audit, conversations, documents, health, openai_compat, search
from api.security import KeyRing, RateLimiter, check_bind
from rag.audit.log import AuditLog
from rag.conversations import ConversationStore
from rag.runtime import Runtime
from rag.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Hỏi đáp có trích dẫn trên văn bản hành chính và pháp luật Việt Nam (question answering with verified
citations over Vietnamese government documents).

* **Auth**: `Authorization: Bearer <key>` with keys from `POLICYQA_API_KEYS` (`key:reader`, `key:admin`).
  With no keys configured the server only runs on loopback and everything is open.
* **Errors** are RFC 9457 `application/problem+json`.
* **Streaming**: `POST /v1/ask` with `Accept: text/event-stream` (or `"stream": true`) sends typed events.
"""


def create_app(settings: Settings, engine: Runtime | None = None, *, embedder: Any | None = None) -> FastAPI:
    """Build the app; the lifespan loads the embedder (unless given) and opens the store (unless an engine is
    injected)."""
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
            {"name": "conversations"},
            {"name": "audit"},
            {"name": "health"},
        ],
    )
    app.state.settings = settings
    app.state.keys = keys
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.metrics = ApiMetrics()
    # opened on first write; None only when POLICYQA_AUDIT_ENABLED=false (a benchmark's baseline)
    app.state.audit = AuditLog(settings.audit_path, settings.audit_retention_days) if settings.audit_enabled else None
    app.state.conversations = ConversationStore(settings.conversations_path)  # opened on first use
    app.state.engine_slot = EngineSlot(settings, engine=engine, embedder=embedder)
    app.state.engine = engine
    install_error_handlers(app)
    for module in (ask, answers, conversations, search, documents, openai_compat, audit, health):
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
    return app

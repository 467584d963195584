"""Mounting the Gradio window (ui.layout) on the API's FastAPI app at /ui, or serving it alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

import gradio as gr
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from rag.audit.export import FORMATS
from rag.runtime import open_runtime
from rag.settings import Settings
from ui import render
from ui.access import UiKeyMiddleware, presented_key
from ui.backend import Backend, BackendUnavailable, ExportFile, HttpBackend, InProcessBackend, PageImage
from ui.i18n import t
from ui.layout import build_ui
from ui.page_view import page_html
from ui.tabs.chat import ASK_CONCURRENCY

__all__ = ["ASK_CONCURRENCY", "THEME", "build_ui", "mount_ui", "serve_ui", "standalone_app"]

# System fonts render Vietnamese diacritics well everywhere and need no download.
THEME = gr.themes.Soft(primary_hue="blue", neutral_hue="slate",
                       font=("system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"),
                       font_mono=("ui-monospace", "Consolas", "monospace"))


def _asset(name: str) -> str:
    """A file of ui/assets/ (package data), read when the UI is mounted, not on import."""
    return (resources.files("ui") / "assets" / name).read_text(encoding="utf-8")


def _css() -> str:
    return "\n" + _asset("app.css")  # the newline the inline CSS string began with, so the page is unchanged


def _head() -> str:
    # A click on an [n] marker shows that answer's sources and brings the cited card into view, without a
    # server round trip; the link never navigates.
    return f"\n<script>\n{_asset('app.js')}</script>\n"


def _doc_page(backend: Backend, doc_id: str, start: int | None, end: int | None, lang: str,
              key: str | None = None) -> HTMLResponse:
    try:
        doc = backend.document(doc_id, key)
    except BackendUnavailable:
        return HTMLResponse(render.document_page(None, lang=lang), status_code=503)
    return HTMLResponse(render.document_page(doc, start=start, end=end, lang=lang),
                        status_code=200 if doc else 404)


def _page_view(backend: Backend, doc_id: str, page: int, start: int | None, end: int | None, key: str | None,
               lang: str) -> HTMLResponse:
    try:
        view = backend.page(doc_id, page, start, end, key)
    except BackendUnavailable as exc:
        view = PageImage(503, detail=str(exc))
    title = f"{doc_id}, {t('page', lang)} {page}"
    return HTMLResponse(page_html(view, title=title, lang=lang), status_code=view.status)


def mount_ui(app: FastAPI, settings: Settings, backend: Backend | None = None) -> FastAPI:
    """Mount the UI at /ui (with / redirecting there and the document view at /ui-doc/{id}).

    The engine is read from app.state.engine on every request, because the API's lifespan opens it after
    the app (and this mount) is built. Mounting twice is a no-op.
    """
    if getattr(app.state, "ui_mounted", False):
        return app
    app.state.ui_mounted = True
    if backend is None:
        # The API's conversations file, so a key's conversations are the same in the UI and over /v1.
        backend = InProcessBackend(lambda: getattr(app.state, "engine", None), settings,
                                   getattr(app.state, "conversations", None), getattr(app.state, "audit", None))
    bound = backend

    @app.get(f"/{render.DOC_ROUTE}/{{doc_id}}", include_in_schema=False, response_class=HTMLResponse)
    async def document_view(request: Request, doc_id: str, start: int | None = Query(default=None, ge=0),
                            end: int | None = Query(default=None, ge=0),
                            lang: str = Query(default="vi", pattern="^(vi|en)$")) -> HTMLResponse:
        # The full text as the browser's key may read it (404 outside its audience, as for a missing id).
        key = presented_key(request.headers.raw)
        return await run_in_threadpool(_doc_page, bound, doc_id, start, end, lang, key)

    @app.get(f"/{render.PAGE_ROUTE}/{{doc_id}}/{{page}}", include_in_schema=False, response_class=HTMLResponse)
    async def page_view(request: Request, doc_id: str, page: int = Path(ge=1, le=100_000),
                        start: int | None = Query(default=None, ge=0), end: int | None = Query(default=None, ge=0),
                        lang: str = Query(default="vi", pattern="^(vi|en)$")) -> HTMLResponse:
        # The API's page endpoint behind the browser's key, as the document view does for the full text.
        key = presented_key(request.headers.raw)
        return await run_in_threadpool(_page_view, bound, doc_id, page, start, end, key, lang)

    @app.get(f"/{render.EXPORT_ROUTE}/{{answer_id}}", include_in_schema=False)
    async def export_view(request: Request, answer_id: str = Path(pattern="^[0-9a-f]{32}$"),
                          format: str = Query(default="docx", pattern="^(docx|pdf)$")) -> Response:  # noqa: A002
        # "Tải về .docx" / ".pdf": one of the browser key's answers, exported as the API's export does.
        key = presented_key(request.headers.raw)
        try:
            got = await run_in_threadpool(bound.export, answer_id, key, format)
        except BackendUnavailable as exc:
            got = ExportFile(503, detail=str(exc))
        if got.status != 200:
            return PlainTextResponse(got.detail or "unavailable", status_code=got.status)
        return Response(got.data, media_type=FORMATS[format],
                        headers={"Content-Disposition": f'attachment; filename="tra-loi-{answer_id[:8]}.{format}"'})

    if not any(getattr(r, "path", None) == "/" for r in app.routes):
        @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
        async def to_ui() -> RedirectResponse:
            return RedirectResponse(url="ui/", status_code=307)

    keys = settings.parsed_api_keys()
    if keys:
        # With keys configured the UI is not public either: one Basic prompt (key as password) covers it.
        prefixes = ("/ui", f"/{render.DOC_ROUTE}", f"/{render.PAGE_ROUTE}", f"/{render.EXPORT_ROUTE}")
        app.add_middleware(UiKeyMiddleware, keys=keys.keys(), prefixes=prefixes)
    demo = build_ui(backend)
    demo.queue(default_concurrency_limit=ASK_CONCURRENCY)
    gr.mount_gradio_app(app, demo, path="/ui", footer_links=[], run_history=False, css=_css(), head=_head(),
                        theme=THEME,
                        max_file_size=settings.max_upload_bytes, show_error=False)
    return app


def standalone_app(settings: Settings, backend: Backend | None = None) -> FastAPI:
    """A FastAPI app holding only the UI: over `backend`, or over a local engine opened by its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if backend is not None:
            yield
            return
        engine = await run_in_threadpool(open_runtime, settings)
        app.state.engine = engine
        try:
            yield
        finally:
            engine.close()

    app = FastAPI(title="policyqa UI", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = None
    return mount_ui(app, settings, backend)


def serve_ui(settings: Settings, *, api_url: str | None = None, api_key: str | None = None,
             log_level: str = "info") -> None:
    """Run the UI alone under uvicorn (`policyqa ui`)."""
    import uvicorn  # deferred: only this entry point runs a server

    backend = HttpBackend(api_url, settings, key=api_key) if api_url else None
    uvicorn.run(standalone_app(settings, backend), host=settings.host, port=settings.port,
                log_level=log_level, server_header=False)

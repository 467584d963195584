"""The Gradio window for officials, and its mounting on the API's FastAPI app at /ui."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from rag.settings import Settings
from ui import render
from ui.access import UiKeyMiddleware
from ui.backend import Backend, BackendUnavailable, InProcessBackend, UploadDenied
from ui.chat import ChatSession, make_filters, new_session, stream_answer, user_markdown
from ui.feedback import FeedbackEntry, FeedbackStore
from ui.i18n import EXAMPLES, LANG_CHOICES, t

log = logging.getLogger(__name__)

ASK_CONCURRENCY = 4  # answers computed at once; more wait in Gradio's queue

CSS = """
.gradio-container{max-width:1280px !important}
#pq-header h2{margin:0} #pq-header p{margin:.2rem 0 0;color:var(--body-text-color-subdued)}
#pq-header-row{flex-wrap:wrap;align-items:center} #pq-header{flex:1 1 300px !important;min-width:0 !important}
#pq-lang{max-width:300px} #pq-lang .wrap{flex-wrap:nowrap}
.pq-cite{display:inline-block;margin:0 1px;padding:0 5px;border-radius:9px;font-size:.82em;line-height:1.5;
  background:var(--color-accent-soft);color:var(--color-accent) !important;text-decoration:none !important;
  font-weight:600;vertical-align:baseline;cursor:pointer}
.pq-cite:hover{background:var(--color-accent);color:#fff !important}
.pq-abstain{border-left:4px solid #b7a36b;background:#fbf7ea;color:#4a4336;padding:8px 12px;border-radius:6px}
.pq-abstain p,.pq-error p{margin:.3rem 0 0}
.pq-error{border-left:4px solid #c0392b;background:#fdf0ee;color:#5b2a24;padding:8px 12px;border-radius:6px}
.pq-sources .pq-turn{display:none} .pq-sources .pq-turn.pq-current{display:block}
.pq-q{margin:0 0 8px} .pq-muted{color:var(--body-text-color-subdued)}
.pq-source{border:1px solid var(--border-color-primary);border-radius:8px;padding:10px 12px;margin:0 0 10px;
  background:var(--block-background-fill);scroll-margin-top:12px}
.pq-source.pq-active{outline:2px solid var(--color-accent);outline-offset:1px}
.pq-source header{margin-bottom:4px;line-height:1.4}
.pq-related summary{cursor:pointer;line-height:1.4} .pq-related[open] summary{margin-bottom:6px}
.pq-n{font-weight:700;color:var(--color-accent)}
.pq-type{font-size:.8em;text-transform:uppercase;letter-spacing:.03em;color:var(--body-text-color-subdued)}
.pq-status{font-size:.8em;margin-left:.4em;padding:0 .4em;border-radius:4px;white-space:nowrap}
.pq-ended{background:#fde2e1;color:#9b1c1c}.pq-not-yet{background:#fef3c7;color:#92400e}
.pq-meta{display:flex;flex-wrap:wrap;gap:2px 14px;font-size:.88em;color:var(--body-text-color-subdued)}
.pq-crumb{font-size:.88em;margin:4px 0;color:var(--body-text-color-subdued)}
.pq-passage{margin:6px 0;padding:6px 10px;border-left:3px solid var(--border-color-primary);
  white-space:pre-wrap;line-height:1.55;font-size:.95em;max-height:320px;overflow:auto}
.pq-passage mark{background:#ffe58a;color:inherit;padding:1px 0}
.pq-open{font-size:.9em;display:inline-block;margin-top:2px}
.pq-table-wrap{overflow-x:auto} table.pq-docs{border-collapse:collapse;width:100%;font-size:.93em}
table.pq-docs th,table.pq-docs td{border-bottom:1px solid var(--border-color-primary);padding:6px 8px;
  text-align:left;vertical-align:top} .pq-num{text-align:right !important}
#pq-examples button{font-weight:400}
@media (max-width: 640px){
  .gradio-container{padding:4px !important} #pq-header p{display:none}
  table.pq-docs thead{display:none} table.pq-docs tr{display:block;padding:8px 0;
    border-bottom:1px solid var(--border-color-primary)}
  table.pq-docs td{display:block;border:none !important;padding:1px 0 !important;text-align:left !important}
  table.pq-docs td[data-label]::before{content:attr(data-label) ": ";font-weight:600}
}
"""

# System fonts render Vietnamese diacritics well everywhere and need no download.
THEME = gr.themes.Soft(primary_hue="blue", neutral_hue="slate",
                       font=("system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"),
                       font_mono=("ui-monospace", "Consolas", "monospace"))

# A click on an [n] marker shows that answer's sources and brings the cited card into view, without a
# server round trip; the link never navigates.
HEAD = """
<script>
document.addEventListener("click", function (ev) {
  var a = ev.target && ev.target.closest ? ev.target.closest('a[href^="#src-"]') : null;
  if (!a) return;
  ev.preventDefault();
  var id = a.getAttribute("href").slice(1), tries = 0;
  (function show() {
    var card = document.getElementById(id);
    if (!card) { if (++tries < 50) setTimeout(show, 100); return; }
    var turn = card.closest(".pq-turn");
    document.querySelectorAll(".pq-sources .pq-turn").forEach(function (s) {
      s.classList.toggle("pq-current", s === turn);
    });
    document.querySelectorAll(".pq-source.pq-active").forEach(function (s) {
      s.classList.remove("pq-active");
    });
    card.classList.add("pq-active");
    card.scrollIntoView({behavior: "smooth", block: "nearest"});
  })();
}, true);
</script>
"""


def _choices(docs: list[dict[str, Any]], lang: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    types = sorted({d["doc_type"] for d in docs if d.get("doc_type")})
    all_ = (t("all", lang), "")
    doc_choices = [(f"{render.format_number(d.get('number'), lang)} · {d.get('title') or d['id']}"[:90],
                    d["id"]) for d in docs]
    return [all_, *[(x, x) for x in types]], [all_, *doc_choices]


def build_ui(backend: Backend, feedback: FeedbackStore | None = None) -> gr.Blocks:
    """The chat, sources, documents and upload screens over one backend (state is per browser session)."""
    settings = backend.settings
    feedback = feedback if feedback is not None else FeedbackStore(settings.feedback_path)
    max_history = settings.max_history_turns
    needs_key = backend.upload_needs_key()

    demo = gr.Blocks(title=t("app_title"), delete_cache=(3600, 3600), analytics_enabled=False)
    with demo:
        session = gr.State(new_session)
        with gr.Row(equal_height=True, elem_id="pq-header-row"):
            header = gr.Markdown(f"## {t('app_title')}\n{t('app_subtitle')}", elem_id="pq-header",
                                 scale=1, min_width=300)
            lang = gr.Radio(LANG_CHOICES, value="vi", show_label=False, container=False, elem_id="pq-lang",
                            scale=0, min_width=280)
        with gr.Tabs():
            with gr.Tab(t("tab_chat"), id="chat") as tab_chat, gr.Row():
                with gr.Column(scale=3, min_width=320):
                    # Grows with the conversation up to most of the screen, so a phone shows the examples.
                    chatbot = gr.Chatbot(label=t("chatbot"), show_label=False, height=None, min_height=300,
                                         max_height="65vh", placeholder=t("chat_placeholder"),
                                         elem_id="pq-chat", feedback_options=("Like", "Dislike"),
                                         buttons=["copy"], group_consecutive_messages=False)
                    with gr.Group(visible=False) as fb_box:
                        fb_hint = gr.Markdown(t("feedback_hint"), padding=True)
                        fb_comment = gr.Textbox(label=t("feedback_comment"), lines=2, max_length=4000,
                                                placeholder=t("feedback_comment_placeholder"),
                                                elem_id="pq-comment")
                        fb_send = gr.Button(t("feedback_send"), size="sm", elem_id="pq-comment-send")
                    fb_status = gr.Markdown("", elem_id="pq-feedback-status")
                    with gr.Row(equal_height=True):
                        question = gr.Textbox(show_label=False, placeholder=t("question_placeholder"),
                                              lines=1, max_lines=5, scale=5, min_width=180,
                                              elem_id="pq-question", max_length=settings.max_question_chars)
                        send = gr.Button(t("send"), variant="primary", scale=1, min_width=80,
                                         elem_id="pq-send")
                    examples_md = gr.Markdown(f"**{t('examples')}**")
                    with gr.Row(elem_id="pq-examples"):
                        example_btns = [gr.Button(q, size="sm", variant="secondary", min_width=160)
                                        for q in EXAMPLES["vi"]]
                    with gr.Accordion(t("filters"), open=False) as filters_box, gr.Row():
                        f_type = gr.Dropdown([(t("all"), "")], value="", label=t("filter_type"),
                                             min_width=160, elem_id="pq-filter-type")
                        f_doc = gr.Dropdown([(t("all"), "")], value="", label=t("filter_doc"),
                                            min_width=200, elem_id="pq-filter-doc")
                    new_chat = gr.Button(t("new_chat"), variant="secondary", size="sm", elem_id="pq-new")
                with gr.Column(scale=2, min_width=300):
                    sources_md = gr.Markdown(f"### {t('sources')}")
                    sources = gr.HTML(render.sources_html([], None), elem_id="pq-sources")
            with gr.Tab(t("tab_docs"), id="docs") as tab_docs:
                docs_md = gr.Markdown(f"### {t('docs_heading')}")
                with gr.Row():
                    d_type = gr.Dropdown([(t("all"), "")], value="", label=t("filter_type"), scale=3,
                                         min_width=160, elem_id="pq-docs-type")
                    refresh = gr.Button(t("refresh"), size="sm", scale=1, min_width=80, elem_id="pq-refresh")
                docs_table = gr.HTML(elem_id="pq-docs")
                with gr.Accordion(t("upload_heading"), open=False, elem_id="pq-upload-box") as upload_box:
                    files = gr.File(label=t("upload_files"), file_count="multiple", type="filepath",
                                    elem_id="pq-files",
                                    file_types=[".md", ".txt", ".docx", ".pdf", ".html", ".htm"])
                    admin_key = gr.Textbox(label=t("admin_key"), type="password", visible=needs_key,
                                           placeholder=t("admin_key_placeholder"), elem_id="pq-admin-key")
                    upload_btn = gr.Button(t("upload_button"), variant="primary", elem_id="pq-upload")
                    report = gr.Markdown(elem_id="pq-report")

        # ---- chat -----------------------------------------------------------------------------------
        def ask(q: str, messages: list[dict[str, Any]], sess: ChatSession, doc_type: str,
                doc_id: str) -> Iterator[tuple[Any, ...]]:
            q = (q or "").strip()
            if not q:
                yield messages, sess, gr.skip(), gr.skip()
                return
            messages = [*messages, {"role": "user", "content": user_markdown(q)},
                        {"role": "assistant", "content": ""}]
            for content in stream_answer(backend, sess, q, make_filters(doc_type, doc_id), max_history):
                messages[-1] = {"role": "assistant", "content": content}
                yield messages, sess, render.sources_html(sess.views, sess.current, sess.lang), ""

        ask_outputs = [chatbot, session, sources, question]
        gr.on([question.submit, send.click], ask, inputs=[question, chatbot, session, f_type, f_doc],
              outputs=ask_outputs, concurrency_limit=ASK_CONCURRENCY, show_progress="hidden")
        for btn in example_btns:  # an example button asks its own text
            btn.click(ask, inputs=[btn, chatbot, session, f_type, f_doc], outputs=ask_outputs,
                      concurrency_limit=ASK_CONCURRENCY, show_progress="hidden")

        def start_over(sess: ChatSession) -> tuple[Any, ...]:
            fresh = new_session(sess.lang)
            return [], fresh, render.sources_html([], None, fresh.lang), gr.update(visible=False), ""

        new_chat.click(start_over, [session], [chatbot, session, sources, fb_box, fb_status])
        chatbot.clear(start_over, [session], [chatbot, session, sources, fb_box, fb_status])

        def select(evt: gr.SelectData, sess: ChatSession) -> tuple[Any, ...]:
            index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            turn = int(index) // 2
            if 0 <= turn < len(sess.views):
                sess.current = turn
            return sess, render.sources_html(sess.views, sess.current, sess.lang)

        chatbot.select(select, [session], [session, sources], show_progress="hidden")

        def like(evt: gr.LikeData, sess: ChatSession) -> tuple[Any, ...]:
            index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            turn = int(index) // 2
            if not 0 <= turn < len(sess.views) or sess.views[turn].get("pending"):
                return sess, gr.skip(), gr.skip()
            view = sess.views[turn]
            rating = 1 if evt.liked in (True, "Like") else -1 if evt.liked in (False, "Dislike") else 0
            if rating == 0:
                feedback.withdraw(sess.id, turn)
                return sess, gr.update(visible=False), ""
            feedback.rate(FeedbackEntry(
                session_id=sess.id, turn=turn, rating=rating, question=view["question"],
                answer=view.get("answer") or view.get("error") or "", abstained=bool(view.get("abstained")),
                citations=[{k: v for k, v in c.items() if k not in ("passage", "passage_start")}
                           for c in view.get("citations") or []],
                filters=view.get("filters"),
                settings={**backend.settings_snapshot(), "mode": view.get("mode")}))
            sess.rated = turn
            return sess, gr.update(visible=True), t("feedback_saved", sess.lang)

        chatbot.like(like, [session], [session, fb_box, fb_status], show_progress="hidden")

        def send_comment(text: str, sess: ChatSession) -> tuple[Any, ...]:
            if sess.rated is None or not (text or "").strip():
                return gr.skip(), gr.skip(), gr.skip()
            feedback.comment(sess.id, sess.rated, text)
            return "", gr.update(visible=False), t("feedback_comment_saved", sess.lang)

        fb_send.click(send_comment, [fb_comment, session], [fb_comment, fb_box, fb_status])
        fb_comment.submit(send_comment, [fb_comment, session], [fb_comment, fb_box, fb_status])

        # ---- documents --------------------------------------------------------------------------------
        def load_docs(doc_type: str, sess: ChatSession) -> tuple[Any, ...]:
            lang_ = sess.lang if sess else "vi"
            try:
                docs = backend.documents()
            except BackendUnavailable as exc:
                log.warning("documents unavailable: %s", exc)
                msg = f'<p class="pq-error">{render.esc(t("error_unavailable", lang_))}</p>'
                return msg, gr.skip(), gr.skip(), gr.skip()
            types, doc_choices = _choices(docs, lang_)
            shown = [d for d in docs if not doc_type or d.get("doc_type") == doc_type]
            return (render.documents_html(shown, lang_), gr.update(choices=types), gr.update(choices=types),
                    gr.update(choices=doc_choices))

        gr.on([demo.load, refresh.click, d_type.change], load_docs, inputs=[d_type, session],
              outputs=[docs_table, d_type, f_type, f_doc])

        def upload(paths: list[str] | None, key: str, doc_type: str, sess: ChatSession) -> tuple[Any, ...]:
            lang_ = sess.lang
            if not paths:
                return t("upload_none", lang_), *load_docs(doc_type, sess)
            if len(paths) > settings.max_upload_files:
                too_many = t("upload_too_many", lang_).format(n=settings.max_upload_files)
                return too_many, *load_docs(doc_type, sess)
            payload = [(Path(p).name, Path(p).read_bytes()) for p in paths]
            for p in paths:  # Gradio's copy of an uploaded document should not outlive the request
                Path(p).unlink(missing_ok=True)
            try:
                result = backend.upload(payload, key or None)
            except UploadDenied:
                return f"**{t('upload_denied', lang_)}**", *load_docs(doc_type, sess)
            except BackendUnavailable:
                return f"**{t('error_unavailable', lang_)}**", *load_docs(doc_type, sess)
            return render.report_markdown(result, lang_), *load_docs(doc_type, sess)

        upload_btn.click(upload, [files, admin_key, d_type, session],
                         [report, docs_table, d_type, f_type, f_doc], concurrency_limit=1)

        # ---- language -----------------------------------------------------------------------------------
        def switch(lang_: str, sess: ChatSession, doc_type: str) -> tuple[Any, ...]:
            sess.lang = lang_
            try:
                docs = backend.documents()
            except BackendUnavailable:
                docs = []
            types, doc_choices = _choices(docs, lang_)
            return (sess, gr.update(value=f"## {t('app_title', lang_)}\n{t('app_subtitle', lang_)}"),
                    gr.update(label=t("tab_chat", lang_)), gr.update(label=t("tab_docs", lang_)),
                    gr.update(label=t("chatbot", lang_), placeholder=t("chat_placeholder", lang_)),
                    gr.update(placeholder=t("question_placeholder", lang_)),
                    gr.update(value=t("send", lang_)),
                    gr.update(label=t("filters", lang_)),
                    gr.update(label=t("filter_type", lang_), choices=types),
                    gr.update(label=t("filter_doc", lang_), choices=doc_choices),
                    f"**{t('examples', lang_)}**",
                    *[gr.update(value=q) for q in EXAMPLES[lang_]],
                    gr.update(value=t("new_chat", lang_)), f"### {t('sources', lang_)}",
                    render.sources_html(sess.views, sess.current, lang_), t("feedback_hint", lang_),
                    gr.update(label=t("feedback_comment", lang_),
                              placeholder=t("feedback_comment_placeholder", lang_)),
                    gr.update(value=t("feedback_send", lang_)), f"### {t('docs_heading', lang_)}",
                    gr.update(label=t("filter_type", lang_), choices=types),
                    gr.update(value=t("refresh", lang_)),
                    render.documents_html([d for d in docs if not doc_type or d.get("doc_type") == doc_type],
                                          lang_),
                    gr.update(label=t("upload_heading", lang_)), gr.update(label=t("upload_files", lang_)),
                    gr.update(label=t("admin_key", lang_), placeholder=t("admin_key_placeholder", lang_)),
                    gr.update(value=t("upload_button", lang_)))

        lang.change(switch, [lang, session, d_type],
                    [session, header, tab_chat, tab_docs, chatbot, question, send, filters_box, f_type, f_doc,
                     examples_md, *example_btns, new_chat, sources_md, sources, fb_hint, fb_comment, fb_send,
                     docs_md, d_type, refresh, docs_table, upload_box, files, admin_key, upload_btn],
                    show_progress="hidden")
    return demo


def _doc_page(backend: Backend, doc_id: str, start: int | None, end: int | None, lang: str) -> HTMLResponse:
    try:
        doc = backend.document(doc_id)
    except BackendUnavailable:
        return HTMLResponse(render.document_page(None, lang=lang), status_code=503)
    return HTMLResponse(render.document_page(doc, start=start, end=end, lang=lang),
                        status_code=200 if doc else 404)


def mount_ui(app: FastAPI, settings: Settings, backend: Backend | None = None) -> FastAPI:
    """Mount the UI at /ui (with / redirecting there and the document view at /ui-doc/{id}).

    The engine is read from app.state.engine on every request, because the API's lifespan opens it after
    the app (and this mount) is built. Mounting twice is a no-op.
    """
    if getattr(app.state, "ui_mounted", False):
        return app
    app.state.ui_mounted = True
    if backend is None:
        backend = InProcessBackend(lambda: getattr(app.state, "engine", None), settings)
    bound = backend

    @app.get(f"/{render.DOC_ROUTE}/{{doc_id}}", include_in_schema=False, response_class=HTMLResponse)
    async def document_view(doc_id: str, start: int | None = Query(default=None, ge=0),
                            end: int | None = Query(default=None, ge=0),
                            lang: str = Query(default="vi", pattern="^(vi|en)$")) -> HTMLResponse:
        return await run_in_threadpool(_doc_page, bound, doc_id, start, end, lang)

    if not any(getattr(r, "path", None) == "/" for r in app.routes):
        @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
        async def to_ui() -> RedirectResponse:
            return RedirectResponse(url="ui/", status_code=307)

    keys = settings.parsed_api_keys()
    if keys:
        # With keys configured the UI is not public either: one Basic prompt (key as password) covers it.
        app.add_middleware(UiKeyMiddleware, keys=keys.keys(), prefixes=("/ui", f"/{render.DOC_ROUTE}"))
    demo = build_ui(backend)
    demo.queue(default_concurrency_limit=ASK_CONCURRENCY)
    gr.mount_gradio_app(app, demo, path="/ui", footer_links=[], run_history=False, css=CSS, head=HEAD,
                        theme=THEME,
                        max_file_size=settings.max_upload_bytes, show_error=False)
    return app


def standalone_app(settings: Settings, backend: Backend | None = None) -> FastAPI:
    """A FastAPI app holding only the UI: over `backend`, or over a local engine opened by its lifespan."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if backend is not None:
            yield
            return
        from rag.runtime import open_runtime

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
    import uvicorn

    from ui.backend import HttpBackend

    backend = HttpBackend(api_url, settings, key=api_key) if api_url else None
    uvicorn.run(standalone_app(settings, backend), host=settings.host, port=settings.port,
                log_level=log_level, server_header=False)

"""The documents tab: its layout (the stored documents' table and the upload box) and handlers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.settings import Settings
from ui import render
from ui.access import request_key
from ui.backend import Backend, BackendUnavailable, UploadDenied
from ui.chat import ChatSession
from ui.i18n import t
from ui.tabs.chat import ChatTab

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class DocsTab:
    """The documents tab's components that its handlers and the language switch read or update."""

    tab: gr.Tab
    docs_md: gr.Markdown
    d_type: gr.Dropdown
    refresh: gr.Button
    docs_table: gr.HTML
    upload_box: gr.Accordion
    files: gr.File
    admin_key: gr.Textbox
    upload_btn: gr.Button
    report: gr.Markdown


def build_docs_tab(needs_key: bool) -> DocsTab:
    """Lay out the documents tab; call inside `gr.Tabs()`. The admin key box shows only when uploads need it."""
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
    return DocsTab(tab=tab_docs, docs_md=docs_md, d_type=d_type, refresh=refresh, docs_table=docs_table,
                   upload_box=upload_box, files=files, admin_key=admin_key, upload_btn=upload_btn, report=report)


def filter_choices(docs: list[dict[str, Any]], lang: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (label, value) choices of the document-type and single-document filters, "all" first."""
    types = sorted({d["doc_type"] for d in docs if d.get("doc_type")})
    all_ = (t("all", lang), "")
    doc_choices = [(f"{render.format_number(d.get('number'), lang)} · {d.get('title') or d['id']}"[:90],
                    d["id"]) for d in docs]
    return [all_, *[(x, x) for x in types]], [all_, *doc_choices]


@dataclass(frozen=True, eq=False)
class DocumentHandlers:
    """The documents tab's handlers (bound methods: Gradio names each event's API endpoint after its function)."""

    backend: Backend
    settings: Settings

    def load_docs(self, doc_type: str, sess: ChatSession, request: gr.Request) -> tuple[Any, ...]:
        lang_ = sess.lang if sess else "vi"
        try:
            docs = self.backend.documents(request_key(request))
        except BackendUnavailable as exc:
            log.warning("documents unavailable: %s", exc)
            msg = f'<p class="pq-error">{render.esc(t("error_unavailable", lang_))}</p>'
            return msg, gr.skip(), gr.skip(), gr.skip()
        types, doc_choices = filter_choices(docs, lang_)
        shown = [d for d in docs if not doc_type or d.get("doc_type") == doc_type]
        return (render.documents_html(shown, lang_), gr.update(choices=types), gr.update(choices=types),
                gr.update(choices=doc_choices))

    def upload(self, paths: list[str] | None, key: str, doc_type: str, sess: ChatSession,
               request: gr.Request) -> tuple[Any, ...]:
        lang_ = sess.lang
        if not paths:
            return t("upload_none", lang_), *self.load_docs(doc_type, sess, request)
        if len(paths) > self.settings.max_upload_files:
            too_many = t("upload_too_many", lang_).format(n=self.settings.max_upload_files)
            return too_many, *self.load_docs(doc_type, sess, request)
        payload = [(Path(p).name, Path(p).read_bytes()) for p in paths]
        for p in paths:  # Gradio's copy of an uploaded document should not outlive the request
            Path(p).unlink(missing_ok=True)
        try:
            result = self.backend.upload(payload, key or None)
        except UploadDenied:
            return f"**{t('upload_denied', lang_)}**", *self.load_docs(doc_type, sess, request)
        except BackendUnavailable:
            return f"**{t('error_unavailable', lang_)}**", *self.load_docs(doc_type, sess, request)
        return render.report_markdown(result, lang_), *self.load_docs(doc_type, sess, request)


def wire_docs_tab(docs: DocsTab, chat: ChatTab, session: gr.State, demo: gr.Blocks,
                  handlers: DocumentHandlers) -> None:
    """Attach the documents tab's events (they also refresh the chat tab's filters); call inside the Blocks."""
    gr.on([demo.load, docs.refresh.click, docs.d_type.change], handlers.load_docs, inputs=[docs.d_type, session],
          outputs=[docs.docs_table, docs.d_type, chat.f_type, chat.f_doc])

    docs.upload_btn.click(handlers.upload, [docs.files, docs.admin_key, docs.d_type, session],
                          [docs.report, docs.docs_table, docs.d_type, chat.f_type, chat.f_doc], concurrency_limit=1)


def relabel_outputs(docs: DocsTab) -> list[Any]:
    """The documents components the language switch updates, in the order of `relabel`."""
    return [docs.docs_md, docs.d_type, docs.refresh, docs.docs_table, docs.upload_box, docs.files, docs.admin_key,
            docs.upload_btn]


def relabel(lang_: str, docs: list[dict[str, Any]], doc_type: str, types: list[tuple[str, str]]) -> tuple[Any, ...]:
    """The documents tab's texts in `lang_` (the table re-rendered, filtered by `doc_type`), for `relabel_outputs`."""
    return (f"### {t('docs_heading', lang_)}",
            gr.update(label=t("filter_type", lang_), choices=types),
            gr.update(value=t("refresh", lang_)),
            render.documents_html([d for d in docs if not doc_type or d.get("doc_type") == doc_type],
                                  lang_),
            gr.update(label=t("upload_heading", lang_)), gr.update(label=t("upload_files", lang_)),
            gr.update(label=t("admin_key", lang_), placeholder=t("admin_key_placeholder", lang_)),
            gr.update(value=t("upload_button", lang_)))

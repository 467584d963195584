"""The Gradio window: the header with the language switch, the two tabs, and the relabelling on a switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ui.access import request_key
from ui.backend import Backend, BackendUnavailable
from ui.chat import ChatSession, new_session
from ui.feedback import FeedbackStore
from ui.i18n import LANG_CHOICES, t
from ui.tabs import admin as admin_tab
from ui.tabs import chat as chat_tab
from ui.tabs import documents as docs_tab
from ui.tabs import history as history_tab


@dataclass(frozen=True, eq=False)
class LanguageSwitch:
    """Relabels the whole window (bound method: Gradio names the event's API endpoint after `switch`)."""

    backend: Backend

    def switch(self, lang_: str, sess: ChatSession, doc_type: str, request: gr.Request) -> tuple[Any, ...]:
        sess.lang = lang_
        try:
            docs = self.backend.documents(request_key(request))
        except BackendUnavailable:
            docs = []
        types, doc_choices = docs_tab.filter_choices(docs, lang_)
        return (sess, gr.update(value=f"## {t('app_title', lang_)}\n{t('app_subtitle', lang_)}"),
                gr.update(label=t("tab_chat", lang_)), gr.update(label=t("tab_docs", lang_)),
                *chat_tab.relabel(lang_, sess, types, doc_choices),
                *docs_tab.relabel(lang_, docs, doc_type, types), *history_tab.relabel(lang_),
                gr.update(label=t("tab_admin", lang_)))


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
        panel = history_tab.build_history_panel()
        with gr.Tabs():
            chat = chat_tab.build_chat_tab(settings)
            docs = docs_tab.build_docs_tab(needs_key)
            admin = admin_tab.build_admin_tab()

        # Events are attached once every component exists, in this order (it numbers Gradio's endpoints).
        history = history_tab.HistoryHandlers(backend)
        chat_tab.wire_chat_tab(chat, session, chat_tab.ChatHandlers(backend, feedback, max_history, history), panel)
        docs_tab.wire_docs_tab(docs, chat, session, demo, docs_tab.DocumentHandlers(backend, settings))
        lang.change(LanguageSwitch(backend).switch, [lang, session, docs.d_type],
                    [session, header, chat.tab, docs.tab, *chat_tab.relabel_outputs(chat),
                     *docs_tab.relabel_outputs(docs), *history_tab.relabel_outputs(panel), admin.tab],
                    show_progress="hidden")
        history_tab.wire_history_panel(panel, chat, session, demo, history)
        admin_tab.wire_admin_tab(admin, session, demo, admin_tab.AdminHandlers(backend, feedback))
    return demo

"""The side panel of saved conversations: listed for the browser's key, resumed, renamed and deleted.

Every chat is saved as it goes (the first question starts a saved conversation and names it); the panel
lists the key's conversations, most recent first, and picking one brings back its messages and sources.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ui import render
from ui.access import request_key
from ui.backend import Backend, BackendUnavailable
from ui.chat import ChatSession, new_session, resume
from ui.i18n import t

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class HistoryPanel:
    sidebar: gr.Sidebar
    heading: gr.Markdown
    listing: gr.Radio
    title: gr.Textbox
    rename: gr.Button
    delete: gr.Button
    status: gr.Markdown


def build_history_panel() -> HistoryPanel:
    """Lay out the side panel; call inside the Blocks, outside the tabs."""
    with gr.Sidebar(open=False, elem_id="pq-history", width=300) as sidebar:
        heading = gr.Markdown(f"### {t('conversations')}")
        listing = gr.Radio([], value=None, label=t("conv_list"), elem_id="pq-conversations")
        title = gr.Textbox(label=t("conv_title"), max_lines=1, max_length=200, elem_id="pq-conv-title")
        with gr.Row():
            rename = gr.Button(t("conv_rename"), size="sm", elem_id="pq-conv-rename")
            delete = gr.Button(t("conv_delete"), size="sm", variant="stop", elem_id="pq-conv-delete")
        status = gr.Markdown("", elem_id="pq-conv-status")
    return HistoryPanel(sidebar, heading, listing, title, rename, delete, status)


def choices(conversations: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c.get("title") or c["id"][:8], c["id"]) for c in conversations]


@dataclass(frozen=True, eq=False)
class HistoryHandlers:
    """The panel's handlers (bound methods: Gradio names each event's API endpoint after its function)."""

    backend: Backend

    def listing_update(self, sess: ChatSession, key: str | None) -> Any:
        """The list of the key's conversations, the open one selected (unchanged when it cannot be read)."""
        try:
            found = self.backend.conversations(key)
        except BackendUnavailable as exc:
            log.warning("conversations unavailable: %s", exc)
            return gr.skip()
        info = None if found else t("conv_empty", sess.lang)
        return gr.update(choices=choices(found), value=sess.conversation_id, info=info)

    def refresh(self, sess: ChatSession, request: gr.Request) -> Any:
        return self.listing_update(sess, request_key(request))

    def open(self, conversation_id: str | None, sess: ChatSession, request: gr.Request) -> tuple[Any, ...]:
        """Resume a conversation: its messages in the chat, its last answer's sources in the panel."""
        if not conversation_id or conversation_id == sess.conversation_id:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), ""
        key = request_key(request)
        try:
            found = self.backend.conversation(conversation_id, key)
        except BackendUnavailable:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), t("conv_unavailable", sess.lang)
        if found is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), t("conv_none", sess.lang)
        fresh, messages = resume(self.backend, found, sess.lang, key)
        return (messages, fresh, render.sources_html(fresh.views, fresh.current, fresh.lang),
                found.get("title") or "", "")

    def rename_open(self, title: str, sess: ChatSession, request: gr.Request) -> tuple[Any, ...]:
        key = request_key(request)
        if not sess.conversation_id or not (title or "").strip():
            return gr.skip(), t("conv_none", sess.lang)
        try:
            done = self.backend.rename_conversation(sess.conversation_id, title, key)
        except BackendUnavailable:
            return gr.skip(), t("conv_unavailable", sess.lang)
        return self.listing_update(sess, key), t("conv_renamed" if done else "conv_none", sess.lang)

    def delete_open(self, sess: ChatSession, request: gr.Request) -> tuple[Any, ...]:
        """Delete the open conversation and start a new chat."""
        key = request_key(request)
        if not sess.conversation_id:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), t("conv_none", sess.lang)
        try:
            self.backend.delete_conversation(sess.conversation_id, key)
        except BackendUnavailable:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), t("conv_unavailable", sess.lang)
        fresh = new_session(sess.lang)
        return ([], fresh, render.sources_html([], None, fresh.lang), self.listing_update(fresh, key), "",
                t("conv_deleted", sess.lang))


def relabel_outputs(panel: HistoryPanel) -> list[Any]:
    return [panel.heading, panel.listing, panel.title, panel.rename, panel.delete]


def relabel(lang_: str) -> tuple[Any, ...]:
    return (f"### {t('conversations', lang_)}", gr.update(label=t("conv_list", lang_)),
            gr.update(label=t("conv_title", lang_)), gr.update(value=t("conv_rename", lang_)),
            gr.update(value=t("conv_delete", lang_)))


def wire_history_panel(panel: HistoryPanel, chat: Any, session: gr.State, demo: gr.Blocks,
                       handlers: HistoryHandlers) -> None:
    """Attach the panel's events (`chat` is the chat tab's components); call inside the Blocks."""
    demo.load(handlers.refresh, [session], [panel.listing], show_progress="hidden")
    panel.listing.input(handlers.open, [panel.listing, session],
                        [chat.chatbot, session, chat.sources, panel.title, panel.status], show_progress="hidden")
    panel.rename.click(handlers.rename_open, [panel.title, session], [panel.listing, panel.status])
    panel.title.submit(handlers.rename_open, [panel.title, session], [panel.listing, panel.status])
    panel.delete.click(handlers.delete_open, [session],
                       [chat.chatbot, session, chat.sources, panel.listing, panel.title, panel.status])

"""The chat tab: its layout (conversation, question box, examples, filters, feedback, sources) and handlers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag.conversations import default_title
from rag.settings import Settings
from ui import render
from ui.access import request_key
from ui.backend import Backend, BackendUnavailable
from ui.chat import ChatSession, make_filters, new_session, stream_answer, user_markdown
from ui.feedback import FeedbackEntry, FeedbackStore
from ui.i18n import EXAMPLES, t
from ui.tabs.history import HistoryHandlers, HistoryPanel

log = logging.getLogger(__name__)

ASK_CONCURRENCY = 4  # answers computed at once; more wait in Gradio's queue


@dataclass(frozen=True, eq=False)
class ChatTab:
    """The chat tab's components that its handlers and the language switch read or update."""

    tab: gr.Tab
    chatbot: gr.Chatbot
    fb_box: gr.Group
    fb_hint: gr.Markdown
    fb_comment: gr.Textbox
    fb_send: gr.Button
    fb_status: gr.Markdown
    question: gr.Textbox
    send: gr.Button
    examples_md: gr.Markdown
    example_btns: list[gr.Button]
    filters_box: gr.Accordion
    f_type: gr.Dropdown
    f_doc: gr.Dropdown
    new_chat: gr.Button
    sources_md: gr.Markdown
    sources: gr.HTML


def build_chat_tab(settings: Settings) -> ChatTab:
    """Lay out the chat tab; call inside `gr.Tabs()`."""
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
    return ChatTab(tab=tab_chat, chatbot=chatbot, fb_box=fb_box, fb_hint=fb_hint, fb_comment=fb_comment,
                   fb_send=fb_send, fb_status=fb_status, question=question, send=send, examples_md=examples_md,
                   example_btns=example_btns, filters_box=filters_box, f_type=f_type, f_doc=f_doc,
                   new_chat=new_chat, sources_md=sources_md, sources=sources)


def start_over(sess: ChatSession) -> tuple[Any, ...]:
    """A new chat: nothing on screen, no saved conversation selected (the next question starts one)."""
    fresh = new_session(sess.lang)
    return [], fresh, render.sources_html([], None, fresh.lang), gr.update(visible=False), "", \
        gr.update(value=None), ""


def select(evt: gr.SelectData, sess: ChatSession) -> tuple[Any, ...]:
    index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    turn = int(index) // 2
    if 0 <= turn < len(sess.views):
        sess.current = turn
    return sess, render.sources_html(sess.views, sess.current, sess.lang)


@dataclass(frozen=True, eq=False)
class ChatHandlers:
    """The chat handlers that need the backend or the feedback store.

    Gradio names each event's API endpoint after its function and reads the event data from its type hints;
    bound methods keep both (the names and signatures are those of the former nested functions).
    """

    backend: Backend
    feedback: FeedbackStore
    max_history: int
    history: HistoryHandlers

    def ask(self, q: str, messages: list[dict[str, Any]], sess: ChatSession, doc_type: str,
            doc_id: str, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        q = (q or "").strip()
        if not q:
            yield messages, sess, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        key = request_key(request)
        title: Any = gr.skip()
        if sess.conversation_id is None:  # the first question starts a saved conversation
            try:
                sess.conversation_id = self.backend.new_conversation("", key)["id"]
                title = default_title(q)
            except BackendUnavailable as exc:  # answered all the same, just not saved
                log.warning("conversation not saved: %s", exc)
        messages = [*messages, {"role": "user", "content": user_markdown(q)},
                    {"role": "assistant", "content": ""}]
        for content in stream_answer(self.backend, sess, q, make_filters(doc_type, doc_id), self.max_history,
                                     key):
            messages[-1] = {"role": "assistant", "content": content}
            yield messages, sess, render.sources_html(sess.views, sess.current, sess.lang), "", gr.skip(), gr.skip()
        yield (messages, sess, render.sources_html(sess.views, sess.current, sess.lang), "",
               self.history.listing_update(sess, key), title)

    def like(self, evt: gr.LikeData, sess: ChatSession) -> tuple[Any, ...]:
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        turn = int(index) // 2
        if not 0 <= turn < len(sess.views) or sess.views[turn].get("pending"):
            return sess, gr.skip(), gr.skip()
        view = sess.views[turn]
        rating = 1 if evt.liked in (True, "Like") else -1 if evt.liked in (False, "Dislike") else 0
        if rating == 0:
            self.feedback.withdraw(sess.id, turn)
            return sess, gr.update(visible=False), ""
        self.feedback.rate(FeedbackEntry(
            session_id=sess.id, turn=turn, rating=rating, question=view["question"],
            answer=view.get("answer") or view.get("error") or "", abstained=bool(view.get("abstained")),
            citations=[{k: v for k, v in c.items() if k not in ("passage", "passage_start")}
                       for c in view.get("citations") or []],
            filters=view.get("filters"),
            settings={**self.backend.settings_snapshot(), "mode": view.get("mode")}))
        sess.rated = turn
        return sess, gr.update(visible=True), t("feedback_saved", sess.lang)

    def send_comment(self, text: str, sess: ChatSession) -> tuple[Any, ...]:
        if sess.rated is None or not (text or "").strip():
            return gr.skip(), gr.skip(), gr.skip()
        self.feedback.comment(sess.id, sess.rated, text)
        return "", gr.update(visible=False), t("feedback_comment_saved", sess.lang)


def wire_chat_tab(chat: ChatTab, session: gr.State, handlers: ChatHandlers, panel: HistoryPanel) -> None:
    """Attach the chat tab's events; call inside the Blocks, after every tab is laid out."""
    ask_outputs = [chat.chatbot, session, chat.sources, chat.question, panel.listing, panel.title]
    gr.on([chat.question.submit, chat.send.click], handlers.ask,
          inputs=[chat.question, chat.chatbot, session, chat.f_type, chat.f_doc],
          outputs=ask_outputs, concurrency_limit=ASK_CONCURRENCY, show_progress="hidden")
    for btn in chat.example_btns:  # an example button asks its own text
        btn.click(handlers.ask, inputs=[btn, chat.chatbot, session, chat.f_type, chat.f_doc], outputs=ask_outputs,
                  concurrency_limit=ASK_CONCURRENCY, show_progress="hidden")

    restart_outputs = [chat.chatbot, session, chat.sources, chat.fb_box, chat.fb_status, panel.listing, panel.title]
    chat.new_chat.click(start_over, [session], restart_outputs)
    chat.chatbot.clear(start_over, [session], restart_outputs)

    chat.chatbot.select(select, [session], [session, chat.sources], show_progress="hidden")

    chat.chatbot.like(handlers.like, [session], [session, chat.fb_box, chat.fb_status], show_progress="hidden")

    chat.fb_send.click(handlers.send_comment, [chat.fb_comment, session],
                       [chat.fb_comment, chat.fb_box, chat.fb_status])
    chat.fb_comment.submit(handlers.send_comment, [chat.fb_comment, session],
                           [chat.fb_comment, chat.fb_box, chat.fb_status])


def relabel_outputs(chat: ChatTab) -> list[Any]:
    """The chat components the language switch updates, in the order of `relabel`."""
    return [chat.chatbot, chat.question, chat.send, chat.filters_box, chat.f_type, chat.f_doc, chat.examples_md,
            *chat.example_btns, chat.new_chat, chat.sources_md, chat.sources, chat.fb_hint, chat.fb_comment,
            chat.fb_send]


def relabel(lang_: str, sess: ChatSession, types: list[tuple[str, str]],
            doc_choices: list[tuple[str, str]]) -> tuple[Any, ...]:
    """The chat tab's texts in `lang_` (filter choices included), for `relabel_outputs`."""
    return (gr.update(label=t("chatbot", lang_), placeholder=t("chat_placeholder", lang_)),
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
            gr.update(value=t("feedback_send", lang_)))

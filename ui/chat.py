"""One conversation: its per-browser-session state and the streaming of an answer into chat messages.

Nothing here is module-level mutable state: each browser session gets its own ChatSession through gr.State,
and the Gradio handlers in ui/tabs/ thread it through.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rag.records import Filters, Turn
from ui.backend import Backend, BackendUnavailable
from ui.i18n import t
from ui.render import answer_markdown, context_window, error_markdown, esc_md

log = logging.getLogger(__name__)

STREAM_INTERVAL_S = 0.05  # at most ~20 chat updates per second while tokens arrive


@dataclass
class ChatSession:
    """What one browser session remembers: its answers (with sources) and which one the panel shows."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    views: list[dict[str, Any]] = field(default_factory=list)  # one per question, in order
    current: int | None = None  # answer whose sources are shown
    rated: int | None = None  # answer the feedback comment box refers to
    lang: str = "vi"
    conversation_id: str | None = None  # the saved conversation this chat is stored in (None: not yet)

    def history(self, max_turns: int) -> list[Turn]:
        """Earlier exchanges for follow-ups (failed answers left out): the newest `max_turns` messages."""
        turns: list[Turn] = []
        for v in self.views:
            if v.get("pending") or v.get("error"):
                continue
            turns += [Turn("user", v["question"]), Turn("assistant", v.get("answer") or "")]
        return turns[-max_turns:] if max_turns > 0 else []


def new_session(lang: str = "vi") -> ChatSession:
    return ChatSession(lang=lang)


def make_filters(doc_type: str | None, doc_id: str | None) -> Filters | None:
    """Filters from the two dropdowns ('' means all)."""
    return Filters(doc_type=doc_type or None, doc_id=doc_id or None) if (doc_type or doc_id) else None


def user_markdown(question: str) -> str:
    return esc_md(question)


def attach_passages(backend: Backend, citations: list[dict[str, Any]], key: str | None = None) -> list[dict[str, Any]]:
    """Each citation with the passage it quotes (its chunk, or the paragraph around the quote)."""
    docs: dict[str, dict[str, Any] | None] = {}
    out = []
    for c in citations:
        doc_id = c["doc_id"]
        if doc_id not in docs:
            try:
                docs[doc_id] = backend.document(doc_id, key)
            except BackendUnavailable:
                docs[doc_id] = None
        doc = docs[doc_id]
        passage, offset = None, 0
        if doc is not None:
            chunk = next((k for k in doc.get("chunks") or [] if k.get("id") == c.get("chunk_id")), None)
            if chunk and chunk["start"] <= c["start"] and c["end"] <= chunk["end"]:
                passage, offset = chunk["text"], chunk["start"]
            elif doc.get("text"):
                passage, offset = context_window(doc["text"], c["start"], c["end"])
        out.append({**c, "passage": passage, "passage_start": offset})
    return out


def stream_answer(backend: Backend, session: ChatSession, question: str, filters: Filters | None,
                  max_history: int, key: str | None = None) -> Iterator[str]:
    """Ask and yield the growing chat message; the finished answer is left in session.views[-1]."""
    lang = session.lang
    history = session.history(max_history)
    turn = len(session.views)
    chosen = {"doc_type": filters.doc_type, "doc_id": filters.doc_id} if filters else {}
    view: dict[str, Any] = {"question": question, "pending": True, "filters": chosen}
    session.views.append(view)
    session.current = turn
    text, abstained, last = "", False, 0.0
    yield f"*{esc_md(t('answering', lang))}*"
    try:
        for ev in backend.ask(question, history, filters, key, session.conversation_id):
            if ev.type == "status":
                abstained = bool(ev.data.get("abstained", abstained))
            elif ev.type == "token":
                text += ev.data.get("text", "")
                if time.monotonic() - last >= STREAM_INTERVAL_S:
                    last = time.monotonic()
                    yield answer_markdown(text, turn=turn, abstained=abstained, lang=lang)
            elif ev.type == "done":
                data = ev.data
                view.update(pending=False, answer=data.get("answer", text),
                            abstained=bool(data.get("abstained")),
                            citations=attach_passages(backend, list(data.get("citations") or []), key),
                            related=list(data.get("related") or []), mode=data.get("mode"),
                            language=data.get("language"), answer_id=data.get("answer_id"))
                yield answer_markdown(view["answer"], turn=turn, citations=view["citations"],
                                      abstained=view["abstained"], lang=lang)
                return
            elif ev.type == "error":
                log.warning("answer failed: %s", ev.data)
                view.update(pending=False, error=ev.data.get("detail") or "error", answer="")
                yield error_markdown(lang, None if ev.data.get("title", "").startswith("HTTP 5") else
                                     _error_detail(ev.data))
                return
    except BackendUnavailable as exc:
        log.warning("backend unavailable: %s", exc)
        view.update(pending=False, error=str(exc), answer="")
        yield error_markdown(lang)
        return
    except Exception:  # the conversation must survive a bug in one answer
        log.exception("answering %r failed", question)
        view.update(pending=False, error="internal error", answer="")
        yield error_markdown(lang)
        return
    # The stream ended without `done`: keep what arrived, marked as incomplete.
    view.update(pending=False, error="incomplete answer", answer=text)
    yield error_markdown(lang)


def _error_detail(data: dict[str, Any]) -> str | None:
    detail = str(data.get("detail") or "")
    # Validation problems (too long, too many turns) are worth showing; internal ones are not.
    return detail if data.get("title", "").startswith("HTTP 4") and detail else None


def resume(backend: Backend, conversation: dict[str, Any], lang: str,
           key: str | None = None) -> tuple[ChatSession, list[dict[str, str]]]:
    """A browser session and its chat messages rebuilt from a saved conversation, sources included."""
    sess = ChatSession(lang=lang, conversation_id=conversation["id"])
    messages: list[dict[str, str]] = []
    for turn, ex in enumerate(conversation.get("turns") or []):
        data = ex.get("answer") or {}
        view = {"question": ex["question"], "pending": False, "filters": {}, "answer": data.get("answer", ""),
                "abstained": bool(data.get("abstained")),
                "citations": attach_passages(backend, list(data.get("citations") or []), key),
                "related": list(data.get("related") or []), "mode": data.get("mode"),
                "language": data.get("language"), "answer_id": data.get("answer_id")}
        sess.views.append(view)
        messages += [{"role": "user", "content": user_markdown(ex["question"])},
                     {"role": "assistant", "content": answer_markdown(view["answer"], turn=turn,
                                                                      citations=view["citations"],
                                                                      abstained=view["abstained"], lang=lang)}]
    sess.current = len(sess.views) - 1 if sess.views else None
    return sess, messages

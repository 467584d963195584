"""Streaming an answer into a per-session conversation (a scripted backend stands in for the engine)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import gradio as gr

from rag.answer.events import Event
from rag.records import Filters, Turn
from rag.settings import Settings
from ui.app import build_ui
from ui.backend import BackendUnavailable
from ui.chat import ChatSession, attach_passages, make_filters, new_session, stream_answer
from ui.feedback import FeedbackStore

TEXT = "Lead:\n- Chỉ đạo tuyên truyền [1]"
DOC_TEXT = "Mở đầu.\n\n3. UBND các huyện: Chỉ đạo tuyên truyền trên đài.\n\nKết."
Q_START = DOC_TEXT.index("Chỉ đạo")
CITATION = {"n": 1, "doc_id": "d1", "chunk_id": "c1", "title": "Công văn", "number": "/X",
            "breadcrumb": "II › 3.", "quote": "Chỉ đạo tuyên truyền", "start": Q_START,
            "end": Q_START + len("Chỉ đạo tuyên truyền")}


class ScriptedBackend:
    """Plays back fixed events and remembers what it was asked."""

    def __init__(self, events: list[Event] | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.events = events if events is not None else answer_events(TEXT, [CITATION])
        self.calls: list[tuple[str, list[Turn], Filters | None]] = []

    def ask(self, question: str, history: Sequence[Turn], filters: Filters | None,
            key: str | None = None, conversation_id: str | None = None) -> Iterator[Event]:
        self.calls.append((question, list(history), filters))
        yield from self.events

    def documents(self, key: str | None = None) -> list[dict[str, Any]]:
        return []

    def document(self, doc_id: str, key: str | None = None) -> dict[str, Any] | None:
        chunk_start = DOC_TEXT.index("3. UBND")
        chunk_end = DOC_TEXT.index("\n\nKết")
        return {"id": doc_id, "title": "Công văn", "text": DOC_TEXT,
                "chunks": [{"id": "c1", "start": chunk_start, "end": chunk_end,
                            "text": DOC_TEXT[chunk_start:chunk_end]}]} if doc_id == "d1" else None

    def upload_needs_key(self) -> bool:
        return False

    def upload(self, files: Sequence[tuple[str, bytes]], key: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def settings_snapshot(self) -> dict[str, Any]:
        return {"answer_mode": "extractive"}


def answer_events(text: str, citations: list[dict[str, Any]], abstained: bool = False) -> list[Event]:
    tokens = [Event("token", {"text": w + " "}) for w in text.split(" ")]
    return [Event("status", {"stage": "retrieving"}),
            Event("status", {"stage": "answering", "abstained": abstained}), *tokens,
            Event("citations", {"citations": citations, "related": []}),
            Event("done", {"answer": text, "abstained": abstained, "citations": citations, "related": [],
                           "mode": "extractive", "language": "vi"})]


def test_answer_streams_then_settles_with_linked_citations() -> None:
    backend = ScriptedBackend()
    session = new_session()
    messages = list(stream_answer(backend, session, "UBND phải làm gì?", None, max_history=20))
    assert len(messages) >= 2 and "Đang soạn" in messages[0]
    final = messages[-1]
    assert 'href="#src-0-1"' in final and "Chỉ đạo tuyên truyền" in final
    view = session.views[0]
    assert view["pending"] is False and view["answer"] == TEXT and session.current == 0
    cited = view["citations"][0]
    assert cited["passage"].startswith("3. UBND") and cited["passage_start"] == DOC_TEXT.index("3. UBND")


def test_history_is_per_session_and_skips_failures() -> None:
    backend = ScriptedBackend()
    a, b = new_session(), new_session()
    assert a.id != b.id and a.views is not b.views
    list(stream_answer(backend, a, "Câu một?", None, max_history=20))
    list(stream_answer(backend, a, "Câu hai?", make_filters("công văn", ""), max_history=20))
    assert backend.calls[1][1] == [Turn("user", "Câu một?"), Turn("assistant", TEXT)]
    assert backend.calls[1][2] == Filters(doc_type="công văn")
    list(stream_answer(backend, b, "Câu khác?", None, max_history=20))
    assert backend.calls[2][1] == []  # b never sees a's conversation
    failing = ScriptedBackend([Event("error", {"title": "RuntimeError", "detail": "boom"})])
    out = list(stream_answer(failing, a, "Câu ba?", None, max_history=20))
    assert "pq-error" in out[-1] and "boom" not in out[-1]  # internal detail is not shown
    assert len(a.history(20)) == 4 and len(a.history(2)) == 2 and a.history(0) == []


def test_abstention_and_unavailable_backend() -> None:
    abstain = ScriptedBackend(answer_events("Các văn bản hiện có không trả lời được câu hỏi này.", [], True))
    session = new_session()
    out = list(stream_answer(abstain, session, "Giá vàng hôm nay?", None, max_history=20))
    assert "pq-abstain" in out[-1] and session.views[0]["abstained"] is True

    class Down(ScriptedBackend):
        def ask(self, question: str, history: Sequence[Turn], filters: Filters | None,
            key: str | None = None, conversation_id: str | None = None) -> Iterator[Event]:
            raise BackendUnavailable("engine not open")
            yield  # pragma: no cover

    out = list(stream_answer(Down(), session, "Câu?", None, max_history=20))
    assert "pq-error" in out[-1] and session.views[-1]["error"]


def test_passages_fall_back_to_the_paragraph_around_the_quote() -> None:
    backend = ScriptedBackend()
    other_chunk = attach_passages(backend, [{**CITATION, "chunk_id": "gone"}])[0]
    assert other_chunk["passage"] == "3. UBND các huyện: Chỉ đạo tuyên truyền trên đài."
    missing = attach_passages(backend, [{**CITATION, "doc_id": "nope"}])[0]
    assert missing["passage"] is None


def test_session_state_is_created_per_browser_session(tmp_path) -> None:  # noqa: ANN001
    demo = build_ui(ScriptedBackend(), FeedbackStore(tmp_path / "f.sqlite"))
    states = [b for b in demo.blocks.values() if isinstance(b, gr.State)]
    assert states and all(callable(s.value) for s in states)  # a factory, never one shared object
    assert isinstance(states[0].value(), ChatSession) and states[0].value() is not states[0].value()
    assert not (tmp_path / "f.sqlite").exists()

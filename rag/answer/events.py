"""Answer as a stream of typed events (status, token, citations, done, error) for SSE and the chat UI.

The `token` events always carry verified text: concatenated, they are `done.answer`. Without an LLM
they are the answer cut into words; with one they follow the model, a sentence at a time as each passes
the verifier. `done.answer` is authoritative: in the rare case where what was streamed is not a prefix
of it (the LLM failed mid-answer and the extractive answer replaced it), the `status` event before
`citations` carries `"replace": true` and clients must replace the streamed text with `done.answer`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rag.answer.entry import iter_answer
from rag.records import Answer, Filters, Turn
from rag.shapes import answer_to_json, citation_to_json, hit_to_json

EventType = Literal["status", "token", "citations", "done", "error"]


@dataclass(frozen=True)
class Event:
    type: EventType
    data: dict[str, Any]


def _pieces(text: str) -> Iterator[str]:
    # Word-sized tokens with their trailing whitespace, so concatenation restores the text exactly.
    yield from re.findall(r"\S+\s*|\s+", text)


def answer_events(question: str, history: Sequence[Turn] = (), filters: Filters | None = None, *,
                  engine: Any, top_k: int | None = None, generator: Any | None = None,
                  as_of: str | None = None) -> Iterator[Event]:
    """Run the answering entry point and report it as events; the last event is `done` or `error`."""
    yield Event("status", {"stage": "retrieving"})
    sent = ""
    try:
        steps = iter_answer(question, history, filters, engine=engine, top_k=top_k, generator=generator,
                            as_of=as_of)
        while True:
            try:
                verified = next(steps)  # an LLM's newly verified text
            except StopIteration as finished:
                ans: Answer = finished.value
                break
            if not sent:
                yield Event("status", {"stage": "generating"})
            sent += verified
            for piece in _pieces(verified):
                yield Event("token", {"text": piece})
    except Exception as exc:  # reported as an event; the HTTP layer decides what detail to show
        yield Event("error", {"title": exc.__class__.__name__, "detail": "the question could not be answered"})
        return
    status: dict[str, Any] = {"stage": "answering", "abstained": ans.abstained}
    if not ans.text.startswith(sent):
        status["replace"] = True  # what was streamed is not the answer: show done.answer instead
    yield Event("status", status)
    if not status.get("replace"):
        for piece in _pieces(ans.text[len(sent):]):
            yield Event("token", {"text": piece})
    yield Event("citations", {"citations": [citation_to_json(c) for c in ans.citations],
                              "related": [hit_to_json(h) for h in ans.related]})
    yield Event("done", answer_to_json(ans))

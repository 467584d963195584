"""POST /v1/ask: an answer with verified citations, as JSON or as typed server-sent events."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Header, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit import Trail, answer_record, write
from api.deps import MetricsDep, Reader, ReaderEngine, SettingsDep
from api.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from api.limits import check_question
from api.metrics import ApiMetrics
from api.routes.conversations import using
from api.schemas import AnswerOut, AskRequest, problem_responses
from api.security import Principal
from api.sse import event_schema, event_stream, events_off_loop, sse, wants_event_stream
from rag.answer.entry import answer
from rag.answer.events import answer_events
from rag.conversations import MAX_EXCHANGES, ConversationFull
from rag.records import Filters, Turn
from rag.runtime import Runtime

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["ask"])

_SSE_EXAMPLE = (
    'event: status\ndata: {"stage": "retrieving"}\n\n'
    'event: status\ndata: {"stage": "answering", "abstained": false}\n\n'
    'event: token\ndata: {"text": "Thông "}\n\n'
    'event: token\ndata: {"text": "tin "}\n\n'
    'event: citations\ndata: {"citations": [{"n": 1, "breadcrumb": "Công văn /STTTT-TTBCXB › I. › 1)", '
    '"quote": "…", "start": 812, "end": 905}], "related": []}\n\n'
    'event: done\ndata: {"answer": "Thông tin … [1].", "abstained": false, "citations": […], '
    '"answer_id": "9f1c…"}\n\n'
)

STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer as JSON, or as server-sent events (`status`, `token`, `citations`, "
        "then `done` with the full answer object, or `error` with problem fields) when `Accept: "
        "text/event-stream` is sent or `stream` is true.",
        "content": {
            "text/event-stream": {
                "schema": event_schema(
                    ["status", "token", "citations", "done", "error"],
                    "JSON payload of the event; `done` carries the AnswerOut object",
                ),
                "example": _SSE_EXAMPLE,
            }
        },
    }
}


async def _answer_stream(
    question: str,
    history: list[Turn],
    filters: Filters | None,
    engine: Runtime,
    top_k: int | None,
    metrics: ApiMetrics,
    as_of: str | None,
    trail: Trail,
    saved: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> AsyncIterator[str]:
    """The answer's events; `done` carries the answer_id, and the audit record is written after it is sent
    (`saved` stores the exchange in its conversation, before `done` goes out)."""
    events = answer_events(question, history, filters, engine=engine, top_k=top_k, as_of=as_of)
    record = None
    async for ev in events_off_loop(events):
        data = ev.data
        if ev.type == "done":
            metrics.answers.labels(
                outcome="abstained" if ev.data.get("abstained") else "answered", endpoint="ask"
            ).inc()
            data = {**ev.data, "answer_id": trail.id}
            record = answer_record(trail, engine, data)
            if saved is not None:
                await saved(data)
        elif ev.type == "error":
            log.warning("streamed answer failed: %s", ev.data.get("detail"))
            metrics.record_answer(None, "ask")
        yield sse(ev.type, data)
    if record is not None:
        await run_in_threadpool(write, trail.log, record)


async def _conversation(request: Request, principal: Principal, body: AskRequest, max_turns: int
                        ) -> tuple[list[Turn], Callable[[dict[str, Any]], Awaitable[None]]]:
    """The stored history of the key's conversation, and how to append this exchange to it."""
    conversation_id = str(body.conversation_id)
    if body.history:
        raise Unprocessable("send either 'history' or 'conversation_id', not both: a saved conversation "
                            "supplies its own history")
    found = await using(request, lambda s: s.get(principal.subject, conversation_id))
    if found is None:
        raise NotFound(f"no conversation with id {conversation_id!r} for this key")
    if found.exchanges >= MAX_EXCHANGES:
        raise Conflict(f"the conversation holds {MAX_EXCHANGES} exchanges; start a new one")

    async def save(answer_json: dict[str, Any]) -> None:
        # The answer is given even when it cannot be saved (a full disk): the failure is logged.
        try:
            await using(request, lambda s: s.append(principal.subject, conversation_id, body.question, answer_json))
        except (ServiceUnavailable, ConversationFull) as exc:
            log.error("exchange not saved in conversation %s: %s", conversation_id, exc)

    return found.history(max_turns), save


@router.post(
    "/ask",
    response_model=AnswerOut,
    summary="Answer a question with citations",
    responses={**STREAM_RESPONSE, **problem_responses(400, 401, 403, 404, 409, 413, 422, 429, 503)},
)
async def ask(
    body: AskRequest,
    request: Request,
    background: BackgroundTasks,
    principal: Reader,
    engine: ReaderEngine,
    settings: SettingsDep,
    metrics: MetricsDep,
    accept: str | None = Header(default=None, include_in_schema=False),
) -> AnswerOut | Response:
    """Answer from the stored documents. Every sentence cites a passage ([n] markers) whose exact quote and
    offsets are returned; when the documents do not answer, `abstained` is true and `related` lists the
    closest passages instead. `answer_id` names the answer in the audit trail (and for its export)."""
    check_question(
        body.question,
        len(body.history),
        max_chars=settings.max_question_chars,
        max_turns=settings.max_history_turns,
    )
    history = [t.to_turn() for t in body.history]
    saved = None
    if body.conversation_id is not None:
        history, saved = await _conversation(request, principal, body, settings.max_history_turns)
    filters = body.filters.to_filters() if body.filters else None
    as_of = body.as_of.isoformat() if body.as_of else None
    if body.stream or wants_event_stream(accept):
        trail = Trail("ask_stream", principal, request)
        return event_stream(_answer_stream(body.question, history, filters, engine, body.top_k, metrics, as_of,
                                           trail, saved))
    trail = Trail("ask", principal, request)
    try:
        ans = await run_in_threadpool(answer, body.question, history, filters, engine=engine, top_k=body.top_k,
                                      as_of=as_of)
    except Exception:
        metrics.record_answer(None, "ask")
        raise
    metrics.record_answer(ans, "ask")
    out = AnswerOut.of(ans, answer_id=trail.id)
    if saved is not None:
        await saved(out.model_dump())
    background.add_task(write, trail.log, answer_record(trail, engine, out.model_dump()))
    return out

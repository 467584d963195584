"""Server-sent events: the answer's typed events on the wire, produced off the event loop."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.concurrency import iterate_in_threadpool
from starlette.responses import StreamingResponse

from api.errors import TYPE_BASE, problem_data
from rag.answer.events import Event

log = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event_schema(events: list[str] | None, description: str) -> dict[str, Any]:
    """OpenAPI schema of one server-sent event (3.1 convention: `schema` describes each event)."""
    props: dict[str, Any] = {
        "data": {"type": "string", "contentMediaType": "application/json", "description": description}
    }
    if events:
        props["event"] = {"type": "string", "enum": events}
    return {"type": "object", "required": ["data"], "properties": props}


_STORE_ERRORS = {"StoreUnavailable": "store-unavailable", "EmbeddingMismatch": "embedding-mismatch"}


def wants_event_stream(accept: str | None) -> bool:
    """True when the client asked for text/event-stream."""
    return bool(accept) and "text/event-stream" in accept.lower()  # type: ignore[union-attr]


def sse(event: str | None, data: Any) -> str:
    """One SSE frame; JSON never contains a raw newline, so one data line is enough."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def error_problem(data: dict[str, Any]) -> dict[str, Any]:
    """Turn answer_events' error event into problem fields (503 for the store, 500 otherwise)."""
    title = str(data.get("title", ""))
    if title in _STORE_ERRORS:
        return {
            "type": TYPE_BASE + _STORE_ERRORS[title],
            "title": "Service Unavailable",
            "status": 503,
            "detail": "the document store is unavailable; retry shortly",
        }
    return {
        "type": TYPE_BASE + "internal-error",
        "title": "Internal Server Error",
        "status": 500,
        "detail": str(data.get("detail") or "the question could not be answered"),
    }


async def events_off_loop(events: Iterator[Event]) -> AsyncIterator[Event]:
    """Iterate a blocking event generator in the threadpool; error events carry problem fields."""
    try:
        async for ev in iterate_in_threadpool(events):
            yield Event("error", error_problem(ev.data)) if ev.type == "error" else ev
    except Exception as exc:  # headers are already sent: the error can only travel as an event
        log.error("stream failed", exc_info=exc)
        yield Event("error", problem_data(exc))


def event_stream(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)

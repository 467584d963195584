"""/v1/conversations: a key's saved conversations (list, create, read, rename, delete). Asking inside one is
`POST /v1/ask` with `conversation_id`: its stored exchanges are the history and the new one is appended."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from api.deps import Reader
from api.errors import NotFound, ServiceUnavailable
from api.schemas import (
    ConversationIn,
    ConversationList,
    ConversationOut,
    ConversationRename,
    ConversationSummaryOut,
    ExchangeOut,
    problem_responses,
)
from rag.conversations import Conversation, ConversationStore, ConversationsUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])
ConversationId = Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="Conversation id")]


def conversation_store(request: Request) -> ConversationStore:
    return request.app.state.conversations  # type: ignore[no-any-return]


async def using(request: Request, op: Callable[[ConversationStore], T]) -> T:
    """One operation on the conversations file off the event loop; an unreadable file is a 503 (logged)."""
    try:
        return await run_in_threadpool(op, conversation_store(request))
    except ConversationsUnavailable as exc:
        log.error("conversations unavailable: %s", exc)
        raise ServiceUnavailable("saved conversations cannot be read or written now; the server log has the "
                                 "details", headers={"Retry-After": "30"}) from exc


def _summary(c: Conversation) -> ConversationSummaryOut:
    return ConversationSummaryOut(id=c.id, title=c.title, created_at=c.created_at, updated_at=c.updated_at,
                                  exchanges=c.exchanges)


def _full(c: Conversation) -> ConversationOut:
    return ConversationOut(**_summary(c).model_dump(), turns=[ExchangeOut(**asdict(x)) for x in c.turns])


def _missing(conversation_id: str) -> NotFound:
    return NotFound(f"no conversation with id {conversation_id!r} for this key")


@router.get("", response_model=ConversationList, summary="This key's saved conversations",
            responses=problem_responses(401, 403, 429, 503))
async def list_conversations(request: Request, principal: Reader) -> ConversationList:
    """The most recently used first; another key's are never listed."""
    found = await using(request, lambda s: s.list(principal.subject))
    return ConversationList(conversations=[_summary(c) for c in found])


@router.post("", response_model=ConversationOut, status_code=201, summary="Start a saved conversation",
             responses=problem_responses(400, 401, 403, 413, 422, 429, 503))
async def create_conversation(body: ConversationIn, request: Request, principal: Reader) -> ConversationOut:
    """An empty conversation; ask in it with `POST /v1/ask` and its `conversation_id`."""
    created = await using(request, lambda s: s.create(principal.subject, body.title))
    return _full(created)


@router.get("/{conversation_id}", response_model=ConversationOut, summary="One conversation with its exchanges",
            responses=problem_responses(401, 403, 404, 422, 429, 503))
async def get_conversation(conversation_id: ConversationId, request: Request, principal: Reader) -> ConversationOut:
    """Every exchange, oldest first, each answer as /v1/ask returned it. Another key's is 404."""
    found = await using(request, lambda s: s.get(principal.subject, conversation_id))
    if found is None:
        raise _missing(conversation_id)
    return _full(found)


@router.patch("/{conversation_id}", response_model=ConversationSummaryOut, summary="Rename a conversation",
              responses=problem_responses(400, 401, 403, 404, 413, 422, 429, 503))
async def rename_conversation(conversation_id: ConversationId, body: ConversationRename, request: Request,
                              principal: Reader) -> ConversationSummaryOut:
    def rename(s: ConversationStore) -> Conversation | None:
        return s.get(principal.subject, conversation_id) if s.rename(principal.subject, conversation_id,
                                                                     body.title) else None

    renamed = await using(request, rename)
    if renamed is None:
        raise _missing(conversation_id)
    return _summary(renamed)


@router.delete("/{conversation_id}", status_code=204, summary="Delete a conversation",
               responses=problem_responses(401, 403, 404, 422, 429, 503))
async def delete_conversation(conversation_id: ConversationId, request: Request, principal: Reader) -> None:
    if not await using(request, lambda s: s.delete(principal.subject, conversation_id)):
        raise _missing(conversation_id)

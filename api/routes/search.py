"""GET /v1/search: retrieval only, the passages an answer would be built from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from starlette.concurrency import run_in_threadpool

from api.audit import Trail, hits_citations, request_record, write
from api.deps import Reader, ReaderEngine, SettingsDep
from api.limits import check_question
from api.schemas import QUESTION_CEILING, TOP_K_MAX, PassageOut, SearchOut, problem_responses
from rag.answer.entry import search as search_question
from rag.records import Filters
from rag.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["search"])


def _search(engine: Runtime, q: str, k: int, filters: Filters | None) -> SearchOut:
    found = search_question(q, (), filters, engine=engine, k=k)
    return SearchOut(query=q, standalone_query=found.standalone_question, hits=[PassageOut.of(h) for h in found.hits])


@router.get(
    "/search",
    response_model=SearchOut,
    summary="Retrieve passages (no answer)",
    responses=problem_responses(401, 403, 422, 429, 503),
)
async def search(
    request: Request,
    background: BackgroundTasks,
    principal: Reader,
    engine: ReaderEngine,
    settings: SettingsDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=QUESTION_CEILING,
            description="Query text",
            examples=["thông tin đối ngoại"],
        ),
    ],
    k: Annotated[int, Query(ge=1, le=TOP_K_MAX, description="Number of passages")] = 5,
    doc_type: Annotated[
        str | None, Query(alias="type", max_length=100, description="Loại văn bản", examples=["công văn"])
    ] = None,
    number: Annotated[str | None, Query(max_length=100, description="Số hiệu", examples=["/STTTT-TTBCXB"])] = None,
) -> SearchOut:
    """Hybrid (dense + lexical) retrieval with the exact-reference fast path and metadata filters."""
    check_question(q, 0, max_chars=settings.max_question_chars, max_turns=0, field="q", location="query")
    filters = Filters(doc_type=doc_type, number=number) if (doc_type or number) else None
    trail = Trail("search", principal, request)
    out = await run_in_threadpool(_search, engine, q, k, filters)
    hits = hits_citations((h.model_dump() for h in out.hits), engine)
    background.add_task(write, trail.log, request_record(trail, engine, question=q, citations=hits))
    return out

"""GET /v1/answers/{answer_id}/export: an answer from the audit trail as a document (DOCX)."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.answer_docx import DOCX_MEDIA_TYPE, answer_docx
from api.audit import read_audit
from api.deps import EngineDep, Reader
from api.errors import Forbidden, NotFound
from api.schemas import problem_responses
from rag.access import can_read
from rag.audit.record import utc_now
from rag.validity_status import doc_statuses

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/answers", tags=["ask"])
ANSWER_ROUTES = frozenset({"ask", "ask_stream", "chat", "chat_stream", "ui_ask"})


@router.get(
    "/{answer_id}/export",
    summary="Export an answer as DOCX, its citations as footnotes",
    response_class=Response,
    responses={200: {"content": {DOCX_MEDIA_TYPE: {}}, "description": "The DOCX file"},
               **problem_responses(401, 403, 404, 422, 429, 503)},
)
async def export_answer(
    request: Request,
    principal: Reader,
    engine: EngineDep,
    answer_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="answer_id of a /v1/ask response")],
    format: Annotated[Literal["docx"], Query(description="The file format")] = "docx",  # noqa: A002
) -> Response:
    """The question, the answer and each citation as a Word footnote (title, số hiệu, date, issuer, breadcrumb,
    the quote, validity when answered and now), with the time and corpus version it was answered from. Only
    the key that asked may export it (another key gets 404); 403 when a cited document has left its audience."""
    record = await read_audit(request, lambda audit: audit.get(answer_id))
    mine = record is not None and (principal.open_mode or record.key_id == principal.subject)
    if record is None or not mine or record.route not in ANSWER_ROUTES:
        raise NotFound(f"no answer with id {answer_id!r} for this key")
    docs = engine.store.snapshot.docs
    hidden = sorted({c.doc_id for c in record.citations
                     if c.doc_id in docs and not can_read(principal.access, docs[c.doc_id].meta.audience)})
    if hidden:  # its audience changed since: the answer quotes what this key may no longer read
        raise Forbidden(f"this answer cites {len(hidden)} document(s) outside your key's audience now")
    statuses = {doc_id: s.state for doc_id, s in doc_statuses(engine.store.snapshot.docs).items()}
    data = await run_in_threadpool(answer_docx, record, statuses, utc_now())
    return Response(data, media_type=DOCX_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="answer-{answer_id}.docx"'})

"""GET /v1/answers/{answer_id}/export: an answer from the audit trail as a document (DOCX)."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.audit import read_audit
from api.deps import EngineDep, Reader
from api.errors import Forbidden, NotFound, ServiceUnavailable
from api.schemas import problem_responses
from rag.audit.docx import DOCX_MEDIA_TYPE
from rag.audit.export import FORMATS, ExportRefused, check_export, export_docx
from rag.audit.pdf import PDF_MEDIA_TYPE, PdfUnavailable

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/answers", tags=["ask"])


@router.get(
    "/{answer_id}/export",
    summary="Export an answer as DOCX (citations as footnotes) or PDF (numbered notes)",
    response_class=Response,
    responses={200: {"content": {DOCX_MEDIA_TYPE: {}, PDF_MEDIA_TYPE: {}}, "description": "The DOCX or PDF file"},
               **problem_responses(401, 403, 404, 422, 429, 503)},
)
async def export_answer(
    request: Request,
    principal: Reader,
    engine: EngineDep,
    answer_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="answer_id of a /v1/ask response")],
    format: Annotated[Literal["docx", "pdf"], Query(description="The file format")] = "docx",  # noqa: A002
) -> Response:
    """The question, the answer and each citation as a Word footnote (title, số hiệu, date, issuer, breadcrumb,
    the quote, validity when answered and now), with the time and corpus version it was answered from. Only
    the key that asked may export it (another key gets 404); 403 when a cited document has left its audience."""
    record = await read_audit(request, lambda audit: audit.get(answer_id))
    docs = engine.store.snapshot.docs
    try:
        allowed = check_export(record, answer_id, owner=principal.subject, open_mode=principal.open_mode,
                               access=principal.access, docs=docs)
    except ExportRefused as exc:
        raise (NotFound(str(exc)) if exc.status == 404 else Forbidden(str(exc))) from None
    try:
        data = await run_in_threadpool(export_docx, allowed, docs, format)
    except PdfUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    return Response(data, media_type=FORMATS[format],
                    headers={"Content-Disposition": f'attachment; filename="answer-{answer_id}.{format}"'})

"""/v1/documents: list, read, upload (multipart, checked by content) and delete stored documents."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.audit import Trail, request_record, write
from api.deps import Admin, EngineDep, MetricsDep, Reader, ReaderEngine, SettingsDep
from api.errors import ApiError, NotFound, Unprocessable, UnsupportedMediaType
from api.schemas import (
    AudienceIn,
    AudienceOut,
    ChunkOut,
    DeleteOut,
    DocumentDetail,
    DocumentList,
    DocumentSummary,
    FootnoteOut,
    IngestReportOut,
    UploadedFile,
    problem_responses,
)
from ingest.load import LoadError, LoadLimits, sniff_format
from ingest.page_image import BadSpan, PageMissing, page_view
from ingest.pipeline import change_audience, ingest_uploads, remove_document, safe_upload_name
from rag.access import parse_audience
from rag.settings import Settings

router = APIRouter(prefix="/v1/documents", tags=["documents"])

DocId = Annotated[
    str, Path(min_length=1, max_length=200, description="Document id", examples=["dispatch-stttt-ttbcxb"])
]
SUPPORTED = "Markdown, plain text (UTF-8), DOCX, PDF (scanned too), HTML, PNG, JPEG or TIFF"

ACCEPTED_TYPES = (
    "text/markdown",
    "text/plain",
    "text/html",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "image/png",
    "image/jpeg",
    "image/tiff",
)
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": f"One or more files: {SUPPORTED}. The type is detected from the "
                            "bytes; the name is only a label.",
                        },
                        "audience": {
                            "type": "string",
                            "description": "Who may read the files: 'public', or groups separated by '|' "
                            "('so-tttt|ubnd-huyen'). Omitted: the file's front matter, else the document's "
                            "current audience, else POLICYQA_DEFAULT_AUDIENCE.",
                            "examples": ["public", "so-tttt|ubnd-huyen"],
                        },
                    },
                },
                "encoding": {"files": {"contentType": ", ".join(ACCEPTED_TYPES)}},
            }
        },
    }
}


@router.get(
    "",
    response_model=DocumentList,
    summary="List stored documents",
    responses=problem_responses(401, 403, 429, 503),
)
async def list_documents(principal: Reader, engine: ReaderEngine) -> DocumentList:
    """Metadata of every stored document (số hiệu, ngày, cơ quan, loại, trích yếu…)."""
    docs = engine.store.snapshot.docs
    return DocumentList(total=len(docs), documents=[DocumentSummary.of(docs[k]) for k in sorted(docs)])


@router.get(
    "/{doc_id}",
    response_model=DocumentDetail,
    summary="One document: metadata, text and chunks",
    responses=problem_responses(401, 403, 404, 422, 429, 503),
)
async def get_document(doc_id: DocId, principal: Reader, engine: ReaderEngine) -> DocumentDetail:
    """The full normalised text and its chunks, each with its breadcrumb and offsets into that text."""
    snap = engine.store.snapshot  # one snapshot: the document and its chunks are always consistent
    doc = snap.docs.get(doc_id)
    if doc is None:
        raise NotFound(f"no document with id {doc_id!r}")
    chunks = [snap.chunks[cid] for cid in snap.by_doc.get(doc_id, doc.chunk_ids) if cid in snap.chunks]
    return DocumentDetail(
        document=DocumentSummary.of(doc),
        text=doc.text,
        chunks=[
            ChunkOut(
                id=c.id,
                ordinal=c.ordinal,
                kind=c.kind,
                breadcrumb=c.breadcrumb,
                start=c.start,
                end=c.end,
                text=c.text,
                article=c.article,
                clause=c.clause,
                section=c.section,
                footnotes=[FootnoteOut(label=f.label, text=f.text) for f in c.footnotes],
            )
            for c in sorted(chunks, key=lambda c: c.ordinal)
        ],
    )


@dataclass(frozen=True)
class _Upload:
    name: str
    data: bytes
    fmt: str


def _audience_field(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unprocessable("body.audience must be a text field, not a file")
    try:
        return parse_audience(value)
    except ValueError as exc:
        msg = str(exc)
        raise Unprocessable(f"body.audience: {msg}",
                            errors=[{"loc": ["body", "audience"], "msg": msg, "type": "value_error"}]) from exc


async def _read_form(request: Request, settings: Settings) -> tuple[list[UploadFile], str | None]:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("expected a multipart/form-data body with one or more 'files' parts")
    try:
        form = await request.form(max_files=settings.max_upload_files, max_fields=20, max_part_size=64 * 1024)
    except ApiError:
        raise  # the size limit, raised while the body streamed in
    except StarletteHTTPException as exc:
        if str(exc.detail).startswith("Too many files"):
            msg = f"at most {settings.max_upload_files} files per upload (POLICYQA_MAX_UPLOAD_FILES)"
            raise Unprocessable(
                f"body.files: {msg}", errors=[{"loc": ["body", "files"], "msg": msg, "type": "too_long"}]
            ) from exc
        raise ApiError(f"malformed multipart body: {exc.detail}") from exc
    except Exception as exc:  # python-multipart on garbage input
        raise ApiError(f"malformed multipart body ({exc.__class__.__name__})") from exc
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    try:
        audience = _audience_field(form.get("audience"))
    except ApiError:
        for f in files:
            await f.close()
        raise
    return files, audience


async def _check_files(files: list[UploadFile]) -> list[_Upload]:
    if not files:
        raise Unprocessable("no file in the upload: send one or more parts named 'files'")
    uploads = []
    for f in files:
        name = safe_upload_name(f.filename or "")
        data = await f.read()
        if not data.strip():
            raise Unprocessable(f"{name}: the file is empty")
        try:
            fmt = sniff_format(data, name)
        except LoadError as exc:
            raise UnsupportedMediaType(f"{name}: {exc}; supported: {SUPPORTED}") from exc
        uploads.append(_Upload(name, data, fmt))
    return uploads


@router.post(
    "",
    response_model=IngestReportOut,
    summary="Upload and ingest files",
    openapi_extra=_UPLOAD_BODY,
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429, 503),
)
async def upload_documents(
    request: Request, background: BackgroundTasks, principal: Admin, engine: EngineDep, settings: SettingsDep,
    metrics: MetricsDep,
) -> IngestReportOut:
    """Ingest uploaded files (admin). Types are checked by content: a PDF named `.txt` is ingested as the PDF
    it is, and the response says so in `files[].detected_format`; anything else (ZIP, executables, legacy
    .doc) is refused with 415 before anything is stored. A file with the same name replaces the earlier
    upload. Readers see either the previous or the new version of a document, never a mix."""
    trail = Trail("upload", principal, request)
    files, audience = await _read_form(request, settings)
    try:
        uploads = await _check_files(files)
    finally:
        for f in files:
            await f.close()
    report = await run_in_threadpool(partial(ingest_uploads, audience=audience), engine.store,
                                     [(u.name, u.data) for u in uploads])
    metrics.record_ingest(report)
    out = IngestReportOut.model_validate(
        {
            **report.to_json(),
            "files": [UploadedFile(filename=u.name, detected_format=u.fmt, bytes=len(u.data)) for u in uploads],
        }
    )
    detail = {"files": [{"name": u.name, "format": u.fmt, "bytes": len(u.data)} for u in uploads],
              "audience": audience,
              "ingested": list(report.ingested), "failed": [f.path for f in report.failed]}
    record = request_record(trail, engine, detail=detail, status_code=422 if report.nothing_ingested else 200)
    if report.nothing_ingested:
        await run_in_threadpool(write, trail.log, record)  # an error response runs no background tasks
        raise Unprocessable(
            "no file could be ingested: " + "; ".join(f"{f.path}: {f.error}" for f in report.failed),
            failed=[f.model_dump() for f in out.failed],
        )
    background.add_task(write, trail.log, record)
    return out


@router.delete(
    "/{doc_id}",
    response_model=DeleteOut,
    summary="Delete a document",
    responses=problem_responses(401, 403, 404, 422, 429, 503),
)
async def delete_document(doc_id: DocId, request: Request, background: BackgroundTasks, principal: Admin,
                          engine: EngineDep, metrics: MetricsDep) -> DeleteOut:
    """Remove a document and its chunks (admin). A corpus file deleted here returns on the next ingest of
    its folder."""
    trail = Trail("delete", principal, request)
    doc = engine.store.snapshot.docs.get(doc_id)
    if doc is None:
        raise NotFound(f"no document with id {doc_id!r}")
    removed = await run_in_threadpool(remove_document, engine.store, doc_id)
    if removed == 0:  # deleted by a concurrent request in between
        raise NotFound(f"no document with id {doc_id!r}")
    metrics.deleted.inc()
    detail = {"doc_id": doc_id, "content_hash": doc.sha256, "removed_chunks": removed}
    background.add_task(write, trail.log, request_record(trail, engine, detail=detail))
    return DeleteOut(id=doc_id, removed_chunks=removed)


@router.put(
    "/{doc_id}/audience",
    response_model=AudienceOut,
    summary="Change who may read a document (admin)",
    responses=problem_responses(400, 401, 403, 404, 413, 422, 429, 503),
)
async def set_audience(doc_id: DocId, body: AudienceIn, request: Request, background: BackgroundTasks,
                       principal: Admin, engine: EngineDep) -> AudienceOut:
    """Set a document's audience: `public`, or groups separated by `|`. Only the manifest changes (no
    re-embedding); readers' next question already sees the new audience. Recorded in the audit trail."""
    try:
        audience = parse_audience(body.audience)
    except ValueError as exc:
        raise Unprocessable(f"body.audience: {exc}", errors=[
            {"loc": ["body", "audience"], "msg": str(exc), "type": "value_error"}]) from exc
    trail = Trail("audience", principal, request)
    doc = engine.store.snapshot.docs.get(doc_id)
    if doc is None:
        raise NotFound(f"no document with id {doc_id!r}")
    changed = await run_in_threadpool(change_audience, engine.store, doc_id, audience)
    if not changed:  # deleted by a concurrent request in between
        raise NotFound(f"no document with id {doc_id!r}")
    detail = {"doc_id": doc_id, "content_hash": doc.sha256, "audience": audience, "previous": doc.meta.audience}
    background.add_task(write, trail.log, request_record(trail, engine, detail=detail))
    return AudienceOut(id=doc_id, audience=audience, previous=doc.meta.audience)


@router.get(
    "/{doc_id}/pages/{page}",
    summary="One page of a PDF or scan as an image, the quoted words highlighted",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The page as PNG; headers say whether (and "
                     "why not) the quote is highlighted"}, **problem_responses(401, 403, 404, 422, 429, 503)},
)
async def page_image(doc_id: DocId, principal: Reader, engine: ReaderEngine, settings: SettingsDep,
                     page: Annotated[int, Path(ge=1, le=100_000, description="1-based page number")],
                     start: Annotated[int | None, Query(ge=0, description="Quote start (citation.start)")] = None,
                     end: Annotated[int | None, Query(ge=0, description="Quote end (citation.end)")] = None,
                     ) -> Response:
    """The page rendered from the stored original. With a citation's `start`/`end`, the quoted OCR words are
    highlighted from their boxes, but only when the quote maps onto them with high confidence; the
    `X-Highlight` header says `yes`, or `no` with the reason in `X-Highlight-Note`."""
    try:
        view = await run_in_threadpool(page_view, engine.store.snapshot, settings.originals_dir, doc_id, page,
                                       start, end, LoadLimits.from_settings(settings))
    except PageMissing as exc:
        raise NotFound(str(exc)) from exc
    except BadSpan as exc:
        raise Unprocessable(str(exc)) from exc
    except LoadError as exc:
        raise Unprocessable(f"cannot draw page {page}: {exc}") from exc
    headers = {"X-Highlight": "yes" if view.highlighted else "no", "Cache-Control": "private, max-age=3600"}
    if view.note:
        headers["X-Highlight-Note"] = quote(view.note)
    return Response(view.png, media_type="image/png", headers=headers)

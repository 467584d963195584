"""GET /v1/audit: the audit trail, for admin keys only."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.audit import read_audit
from api.deps import Admin
from api.errors import Unprocessable
from api.schemas import problem_responses
from rag.audit.log import AuditQuery

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["audit"])

AUDIT_LIMIT_MAX = 1000
ROUTES = ("ask", "ask_stream", "chat", "chat_stream", "search", "upload", "delete", "audience", "ui_ask")


class AuditCitationOut(BaseModel):
    n: int
    chunk_id: str
    doc_id: str
    content_hash: str | None = Field(description="sha256 of the cited document when answered")
    status: str | None = Field(description="Validity of the cited text on the question's date")
    title: str
    number: str | None
    issued_date: str | None
    issuer: str | None
    breadcrumb: str
    quote: str


class AuditRecordOut(BaseModel):
    id: str = Field(description="The record id; for answers, the response's answer_id")
    time: str = Field(description="UTC, ISO 8601")
    key_id: str = Field(description="Fingerprint of the key (never the key), or ip:… when the API is open")
    role: str
    groups: list[str] = Field(default=[], description="The reader key's groups")
    client: str
    route: str
    question: str
    answer: str
    abstained: bool | None
    citations: list[AuditCitationOut]
    removed_sentences: int = Field(description="Sentences the verifier removed")
    latency_ms: float
    status_code: int
    corpus_version: str = Field(description="Hash of the stored document ids and content hashes")
    detail: dict[str, Any]
    prev_hash: str
    hash: str = Field(description="sha256 of the canonical JSON of the other fields, prev_hash included")


class AuditOut(BaseModel):
    count: int
    records: list[AuditRecordOut]


# ISO 8601 only: pydantic's datetime would also take a number as a Unix time ("until=0.5").
ISO_TIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$"


def _utc(value: str | None, name: str) -> str | None:
    # Stored times are UTC ISO strings; a naive filter time is read as UTC too.
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Unprocessable(f"{name!r} is not a valid ISO 8601 time: {value!r}") from exc
    aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds")


@router.get(
    "/audit",
    response_model=AuditOut,
    summary="The audit trail (admin)",
    responses=problem_responses(401, 403, 422, 429, 503),
)
async def list_audit(
    request: Request,
    principal: Admin,
    since: Annotated[str | None, Query(pattern=ISO_TIME, description="From this time (ISO 8601; UTC when no "
                                       "offset)")] = None,
    until: Annotated[str | None, Query(pattern=ISO_TIME, description="Up to this time, inclusive")] = None,
    route: Annotated[str | None, Query(pattern="^(" + "|".join(ROUTES) + ")$", description="Route recorded")] = None,
    key_id: Annotated[str | None, Query(max_length=100, description="Key fingerprint (key:…)")] = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_LIMIT_MAX, description="At most this many records")] = 100,
    order: Annotated[Literal["asc", "desc"], Query(description="asc: oldest first; desc: newest first")] = "asc",
) -> AuditOut:
    """Records oldest first (`order=desc`: newest first): who (key fingerprint, role, address) did what
    (route, question, answer, citations
    with their documents' content hashes and validity, the verifier's removals) and how long it took."""
    query = AuditQuery(since=_utc(since, "since"), until=_utc(until, "until"), route=route, key_id=key_id, limit=limit,
                       newest_first=order == "desc")
    records = await read_audit(request, lambda audit: audit.query(query))
    return AuditOut(count=len(records), records=[AuditRecordOut.model_validate(asdict(r)) for r in records])

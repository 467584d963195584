"""What the API writes to the audit trail, built from a request and its response; writing never fails a request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.errors import ServiceUnavailable
from api.security import Principal
from rag.audit.log import AuditLog, AuditUnavailable
from rag.audit.record import AuditCitation, AuditRecord, answer_fields, cited, corpus_version, new_id, utc_now
from rag.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Trail:
    """Who called which route and when: what a route needs to write its record once it has responded."""

    route: str
    principal: Principal
    request: Request
    id: str = field(default_factory=new_id)  # made up front, so a response can carry it before the write
    started: float = field(default_factory=time.perf_counter)

    @property
    def log(self) -> AuditLog | None:
        return self.request.app.state.audit  # type: ignore[no-any-return]


def audit_log(request: Request) -> AuditLog:
    audit: AuditLog | None = request.app.state.audit
    if audit is None:
        raise AuditUnavailable("the audit trail is switched off (POLICYQA_AUDIT_ENABLED=false)")
    return audit


async def read_audit(request: Request, read: Callable[[AuditLog], T]) -> T:
    """Run one read of the audit log off the event loop; an unreadable log is a 503 (logged), never a 500."""
    try:
        return await run_in_threadpool(read, audit_log(request))
    except AuditUnavailable as exc:
        log.error("audit log unavailable: %s", exc)
        raise ServiceUnavailable("the audit log cannot be read; the server log has the details",
                                 headers={"Retry-After": "30"}) from exc


def _citations(cites: Iterable[Mapping[str, Any]], engine: Runtime) -> tuple[AuditCitation, ...]:
    return cited(cites, engine.store.snapshot.docs)


def request_record(trail: Trail, engine: Runtime | None, **fields: Any) -> AuditRecord:
    """The record of a request (search, upload, delete; answers add theirs through answer_record)."""
    client = trail.request.client.host if trail.request.client else "unknown"
    version = corpus_version(engine.store.snapshot.docs) if engine is not None else ""
    return AuditRecord(id=trail.id, time=utc_now(), key_id=trail.principal.subject, role=trail.principal.role,
                       groups=tuple(sorted(trail.principal.groups)), client=client, route=trail.route,
                       latency_ms=round((time.perf_counter() - trail.started) * 1000, 1),
                       corpus_version=version, **fields)


def answer_record(trail: Trail, engine: Runtime, answer: Mapping[str, Any]) -> AuditRecord:
    """The record of an answer, from its public JSON shape (rag.shapes.answer_to_json, or SSE's `done`)."""
    return request_record(trail, engine, **answer_fields(answer, engine.store.snapshot.docs))


def hits_citations(hits: Iterable[Mapping[str, Any]], engine: Runtime) -> tuple[AuditCitation, ...]:
    """Retrieved passages (search) recorded like citations, numbered by rank; their text is not kept."""
    return _citations(({**h, "n": h.get("rank"), "quote": ""} for h in hits), engine)


def write(audit: AuditLog | None, record: AuditRecord) -> None:
    """Append the record; any failure is logged, never raised (the client already has its response)."""
    if audit is None:  # switched off to measure its cost
        return
    try:
        audit.append(record)
    except Exception:
        log.error("could not write audit record %s (%s)", record.id, record.route, exc_info=True)

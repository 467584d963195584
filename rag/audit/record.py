"""One audit record and its place in the chain: canonical JSON of the fields plus the previous hash, hashed."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # prev_hash of the first record ever written


@dataclass(frozen=True)
class AuditCitation:
    """A cited passage as it was when answered: enough to export it later even if its document is gone."""

    n: int
    chunk_id: str
    doc_id: str
    content_hash: str | None  # sha256 of the cited document's bytes (the store's document metadata)
    status: str | None  # validity on the question's date
    title: str = ""
    number: str | None = None
    issued_date: str | None = None
    issuer: str | None = None
    breadcrumb: str = ""
    quote: str = ""


@dataclass(frozen=True)
class AuditRecord:
    """What one request did. `hash` covers every other field and `prev_hash`."""

    id: str
    time: str  # UTC ISO 8601
    key_id: str  # the key's fingerprint ("key:…"), or "ip:…" when the API is open; never the key
    role: str
    client: str  # the caller's address
    route: str  # "ask", "ask_stream", "chat", "chat_stream", "search", "upload", "delete", "audience"
    question: str = ""
    answer: str = ""
    abstained: bool | None = None
    citations: tuple[AuditCitation, ...] = ()
    removed_sentences: int = 0  # sentences the verifier dropped
    latency_ms: float = 0.0
    status_code: int = 200
    corpus_version: str = ""  # hash of the stored document ids and content hashes at answer time
    detail: dict[str, Any] = field(default_factory=dict)  # route-specific: uploaded files, deleted document
    groups: tuple[str, ...] = ()  # a reader key's groups (rag.access), sorted
    prev_hash: str = GENESIS
    hash: str = ""


def new_id() -> str:
    """An answer id, made before the answer so the response can carry it."""
    return uuid.uuid4().hex


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def canonical(data: Any) -> str:
    """One JSON spelling of a value: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def body_of(record: AuditRecord) -> dict[str, Any]:
    """The hashed fields (all but `hash`), as JSON-ready data."""
    data = asdict(record)
    del data["hash"]
    if not data["groups"]:  # records written before keys had groups stay verifiable
        del data["groups"]
    return data


def record_hash(body: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of the fields, prev_hash included."""
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def record_from_json(data: dict[str, Any]) -> AuditRecord:
    cites = tuple(AuditCitation(**c) for c in data.get("citations", ()))
    return AuditRecord(**{**data, "citations": cites, "groups": tuple(data.get("groups", ()))})


def corpus_version(docs: dict[str, Any]) -> str:
    """Short hash of the stored documents' ids and content hashes: which corpus an answer came from."""
    joined = "\n".join(f"{doc_id}\t{getattr(doc, 'sha256', '')}" for doc_id, doc in sorted(docs.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def cited(cites: Iterable[Mapping[str, Any]], docs: Mapping[str, Any]) -> tuple[AuditCitation, ...]:
    """Citations (public JSON shape) as recorded: each with its document's content hash from `docs`."""
    out = []
    for i, c in enumerate(cites, 1):
        doc = docs.get(str(c.get("doc_id")))
        out.append(AuditCitation(
            n=int(c.get("n") or i), chunk_id=str(c.get("chunk_id", "")), doc_id=str(c.get("doc_id", "")),
            content_hash=getattr(doc, "sha256", None), status=c.get("status"), title=str(c.get("title") or ""),
            number=c.get("number"), issued_date=c.get("issued_date"), issuer=c.get("issuer"),
            breadcrumb=str(c.get("breadcrumb") or ""), quote=str(c.get("quote") or ""),
        ))
    return tuple(out)


def answer_fields(answer: Mapping[str, Any], docs: Mapping[str, Any]) -> dict[str, Any]:
    """The AuditRecord fields of an answer, from its public JSON shape (rag.shapes.answer_to_json, SSE `done`)."""
    return {"question": str(answer.get("question", "")), "answer": str(answer.get("answer", "")),
            "abstained": bool(answer.get("abstained")), "citations": cited(answer.get("citations", ()), docs),
            "removed_sentences": int(answer.get("removed_sentences") or 0)}

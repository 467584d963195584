"""The public JSON shapes of the records: passages, answers and stored documents (API, CLI --json, UI)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rag.records import Answer, Citation, Hit, StoredDocument

__all__ = ["answer_to_json", "document_summary", "hit_to_json"]


def hit_to_json(hit: Hit) -> dict[str, Any]:
    """A retrieved passage as JSON-ready data."""
    c = hit.chunk
    return {"chunk_id": c.id, "doc_id": c.doc_id, "title": hit.title, "number": hit.number,
            "breadcrumb": c.breadcrumb, "text": c.text, "start": c.start, "end": c.end, "article": c.article,
            "page": c.page, "pages": list(c.pages),
            "score": round(hit.score, 6), "dense": None if hit.dense is None else round(hit.dense, 6),
            "lexical": None if hit.lexical is None else round(hit.lexical, 6), "rank": hit.rank}


def citation_to_json(c: Citation) -> dict[str, Any]:
    """One citation in JSON's shapes (its pages and boxes as lists), the same in process and over HTTP."""
    return _plain(asdict(c))  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    """JSON's own shapes: tuples of a record (a citation's pages and boxes) become lists, as over HTTP."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def answer_to_json(ans: Answer, *, include_hits: bool = False) -> dict[str, Any]:
    """The public shape of an Answer (API, CLI --json, UI)."""
    out: dict[str, Any] = {
        "question": ans.question,
        "standalone_question": ans.standalone_question,
        "answer": ans.text,
        "abstained": ans.abstained,
        "language": ans.language,
        "citations": [citation_to_json(c) for c in ans.citations],
        "related": [hit_to_json(h) for h in ans.related],
        "removed_sentences": ans.removed_sentences,
        "mode": ans.mode,
        "warnings": list(ans.warnings),
        "timings": {k: round(v, 3) for k, v in ans.timings.items()},
    }
    if include_hits:
        out["hits"] = [hit_to_json(h) for h in ans.hits]
    return out


def document_summary(doc: StoredDocument) -> dict[str, Any]:
    """Metadata of one stored document as JSON-ready data."""
    return {"id": doc.doc_id, **asdict(doc.meta), "format": doc.format, "source": doc.source_key,
            "sha256": doc.sha256, "chunks": len(doc.chunk_ids), "characters": len(doc.text),
            "warnings": list(doc.warnings), "ingested_at": doc.ingested_at}

"""An answer's passages lead with what it cites (rag.answer.entry.evidence_first): pure ordering logic."""

from __future__ import annotations

from types import SimpleNamespace

from rag.answer.entry import evidence_first
from rag.records import Chunk, Citation, DocumentMeta, Hit


def chunk(cid: str) -> Chunk:
    return Chunk(id=cid, doc_id="d", ordinal=0, text=cid, start=0, end=len(cid), breadcrumb=cid, kind="clause")


def citation(n: int, cid: str) -> Citation:
    return Citation(n=n, doc_id="d", chunk_id=cid, title="T", number=None, breadcrumb=cid, quote=cid, start=0,
                    end=len(cid))


SNAPSHOT = SimpleNamespace(chunks={c: chunk(c) for c in "abcdz"},
                           docs={"d": SimpleNamespace(meta=DocumentMeta(title="Luật X", number="1/2024/QH15"))})


def test_cited_chunks_lead_in_citation_order_and_the_rest_keep_theirs() -> None:
    hits = [Hit(chunk=chunk(c), score=s, rank=i) for i, (c, s) in enumerate([("a", 0.9), ("b", 0.8), ("c", 0.7)], 1)]
    out = evidence_first(hits, [citation(1, "c"), citation(2, "a"), citation(3, "c")], SNAPSHOT)
    assert [h.chunk.id for h in out] == ["c", "a", "b"] and [h.rank for h in out] == [1, 2, 3]


def test_a_cited_chunk_retrieval_missed_joins_with_the_top_score() -> None:
    hits = [Hit(chunk=chunk("a"), score=0.9, rank=1)]
    out = evidence_first(hits, [citation(1, "z"), citation(2, "z")], SNAPSHOT)
    assert [h.chunk.id for h in out] == ["z", "a"]
    assert out[0].score == 0.9 and out[0].number == "1/2024/QH15" and out[0].title == "Luật X"

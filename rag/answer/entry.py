"""The entry points shared by the CLI, the API, the UI and the eval harness: answer() and search()."""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Sequence
from dataclasses import replace
from typing import Any

from rag.answer.abstain import features, load_calibration, p_answerable
from rag.answer.evidence import missing_need
from rag.answer.extractive import asks_about_document, compose_extractive, obligations_actor, promote_structural
from rag.answer.legal import LegalDraft, compose_exact, compose_legal, compose_validity, exact_unit_chunks
from rag.answer.verify import Source, verify
from rag.llm.generators import stream_verified
from rag.query import QueryInfo, translate_terms, understand
from rag.records import Answer, Citation, Filters, Hit, SearchResult, Turn
from rag.retrieve import (
    allowed_docs,
    mentions_any,
    named_documents,
    names_unknown_document,
    search_query,
    unknown_names,
    unknown_places,
)
from rag.text.question_kinds import question_kinds
from rag.validity_status import DocStatus, doc_statuses, stale_docs

__all__ = ["answer", "iter_answer", "search"]

log = logging.getLogger(__name__)

ABSTAIN_TEXT = {
    "vi": "Các văn bản hiện có không trả lời được câu hỏi này. Các đoạn gần nhất được liệt kê bên dưới "
          "để tham khảo, không phải là câu trả lời.",
    "en": "The documents do not answer this question. The closest passages are listed below for reference; "
          "they are not an answer.",
}
NO_DOCS_TEXT = {
    "vi": "Chưa có văn bản nào trong kho để trả lời.",
    "en": "There are no documents in the store to answer from.",
}


def sources_for(hits: Sequence[Hit], snapshot: Any, limit: int) -> list[Source]:
    """Number the passages 1..n for the composer or the LLM."""
    return [Source(n=i, chunk=h.chunk, meta=snapshot.docs[h.chunk.doc_id].meta)
            for i, h in enumerate(hits[:limit], start=1)]


def answer(question: str, history: Sequence[Turn] = (), filters: Filters | None = None, *, engine: Any,
           top_k: int | None = None, generator: Any | None = None, as_of: str | None = None) -> Answer:
    """Answer a question from the stored documents, with verified citations or a plain abstention.

    as_of (ISO date, default today) is the date whose texts in force are preferred and reported."""
    steps = iter_answer(question, history, filters, engine=engine, top_k=top_k, generator=generator,
                        stream=False, as_of=as_of)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def search(question: str, history: Sequence[Turn] = (), filters: Filters | None = None, *, engine: Any,
           k: int = 10) -> SearchResult:
    """Retrieval only: the best passages for a question (and its history), as answer() would read them."""
    info = understand(question, history)
    hits = search_query(engine, info, k=k, filters=filters)
    return SearchResult(question=question, standalone_question=info.standalone, hits=tuple(hits))


def iter_answer(question: str, history: Sequence[Turn] = (), filters: Filters | None = None, *, engine: Any,
                top_k: int | None = None, generator: Any | None = None,
                stream: bool = True, as_of: str | None = None) -> Generator[str, None, Answer]:
    """Like answer(), yielding answer text as it is verified (LLM mode with stream); returns the Answer.

    Only verified sentences are yielded (rag.llm.generators.stream_verified), so what a client has shown stays true.
    """
    settings = engine.settings
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    info = understand(question, history)
    snapshot = engine.store.snapshot
    k = top_k or settings.top_k
    kinds, statuses, hits = retrieve_for_answer(engine, info, filters, k=k, as_of=as_of, timings=timings)
    t1 = time.perf_counter()
    timings["retrieve_ms"] = (t1 - t0) * 1000
    lang = info.language
    if not snapshot.docs:
        return Answer(question=question, standalone_question=info.standalone, text=NO_DOCS_TEXT[lang],
                      citations=(), abstained=True, language=lang, timings=timings)  # type: ignore[arg-type]
    legal, first_draft = drafts(info, kinds, hits, snapshot, statuses, filters, k=k, settings=settings)
    values = evidence_features(info, hits, snapshot, filters, first_draft)
    cal = load_calibration()
    p = p_answerable(values, cal)
    weak = p < cal.threshold
    if weak and values["coverage_top3"] > 0 and asks_about_document(info.standalone, hits[:k]):
        weak = False  # "who signed / Kính gửi / Nơi nhận": the header or closing block answers it
    if weak and legal is not None and legal[1]:
        weak = False  # an exact reference or a validity statement of a named text answers it
    if not weak and not speaks_of_unknown_text(info, hits[:k], snapshot):
        weak = True  # a text the store does not hold: only a passage that names it can say what it says
    if not weak and unknown_places(snapshot, info, allowed_docs(snapshot, filters)):
        weak = True  # another province's dispatch or plan: the store holds nothing from that place
    timings["coverage"] = round(values["coverage_top3"], 4)
    timings["p_answerable"] = round(p, 4)
    if weak:
        return _abstain(question, info, hits[:k], timings, t0)
    sources = sources_for(hits, snapshot, k)
    generator = generator if generator is not None else getattr(engine, "generator", None)
    warnings: list[str] = []
    mode = "extractive"
    draft = None
    doc_texts = {s.chunk.doc_id: snapshot.docs[s.chunk.doc_id].text for s in sources}
    if generator is not None:
        try:
            if stream and hasattr(generator, "stream"):
                # Only verified sentences are streamed (see rag.llm.generators.stream_verified).
                draft = yield from stream_verified(generator, info, sources,
                                                   lambda d: _verified_text(d, sources, doc_texts))
            else:
                draft = generator.generate(info, sources)
            mode = generator.mode
            timings["generate_ms"] = (time.perf_counter() - t1) * 1000
        except Exception as exc:  # any LLM failure degrades to the extractive answer
            log.warning("generator failed, using the extractive answer: %s", exc)
            warnings.append(f"LLM unavailable ({exc.__class__.__name__}); extractive answer given instead")
    authoritative = False  # an exact reference or a validity statement of a named text answered it
    if draft is None and legal is not None:
        draft, sources = legal[0].text, list(legal[0].sources)
        authoritative = legal[1]
        doc_texts = {s.chunk.doc_id: snapshot.docs[s.chunk.doc_id].text for s in sources}
    if draft is None:
        draft = first_draft  # the sentence picker's draft over the same sources, made before abstaining
    verified = verify(draft, sources, doc_texts)
    if not verified.citations and legal is not None and not legal[1]:
        # The provision-level draft did not survive verification: the sentence picker gets its turn.
        sources = sources_for(hits, snapshot, k)
        doc_texts = {s.chunk.doc_id: snapshot.docs[s.chunk.doc_id].text for s in sources}
        draft = compose_extractive(info, sources, snapshot.idf, max_sentences=settings.max_answer_sentences,
                                   actor=obligations_actor(info.standalone), unseen=snapshot.idf_unseen)
        verified = verify(draft, sources, doc_texts)
    t2 = time.perf_counter()
    timings["compose_ms"] = (t2 - t1) * 1000
    if not verified.citations:
        return replace(_abstain(question, info, hits[:k], timings, t0), removed_sentences=verified.removed,
                       warnings=tuple(warnings), mode=mode)
    timings["total_ms"] = (time.perf_counter() - t0) * 1000
    citations = tuple(with_status(c, statuses.get(c.doc_id)) for c in verified.citations)
    ranked = evidence_first(hits, citations, snapshot) if authoritative and settings.cited_first else list(hits)
    return Answer(question=question, standalone_question=info.standalone, text=verified.text,
                  citations=citations, abstained=False, hits=tuple(ranked), language=lang,  # type: ignore[arg-type]
                  removed_sentences=verified.removed, mode=mode, warnings=tuple(warnings), timings=timings)


def evidence_first(hits: Sequence[Hit], citations: Sequence[Citation], snapshot: Any) -> list[Hit]:
    """The answer's ranking: the chunks it cites first, in citation order, then the other retrieved chunks.

    The composer chose the provisions it quotes with more than retrieval knew (the clause that ends a named
    law, an exact unit, the road users asked about): the passages offered beside the answer lead with them."""
    by_id = {h.chunk.id: h for h in hits}
    top = max((h.score for h in hits), default=1.0)
    first: list[Hit] = []
    for cid in dict.fromkeys(c.chunk_id for c in citations):  # each cited chunk once, in citation order
        if cid in by_id:
            first.append(by_id[cid])
        elif cid in snapshot.chunks:
            doc = snapshot.docs[snapshot.chunks[cid].doc_id]
            first.append(Hit(chunk=snapshot.chunks[cid], score=top, title=doc.meta.title or "",
                             number=doc.meta.number))
    cited = {h.chunk.id for h in first}
    rest = [h for h in hits if h.chunk.id not in cited]
    return [replace(h, rank=i) for i, h in enumerate([*first, *rest], start=1)]


def retrieve_for_answer(engine: Any, info: QueryInfo, filters: Filters | None, *, k: int,
                        as_of: str | None = None, timings: dict[str, float] | None = None
                        ) -> tuple[frozenset[str], dict[str, DocStatus], list[Hit]]:
    """What answering retrieves for an understood question: its kinds, the texts' validity on as_of, and the
    hits (in-force texts first, structural promotions applied). The abstention fit uses the same path."""
    snapshot = engine.store.snapshot
    kinds = question_kinds(info.standalone)
    statuses = doc_statuses(snapshot.docs, as_of)
    hits = search_query(engine, info, k=max(k, 8), filters=filters, timings=timings, statuses=statuses)
    return kinds, statuses, promote_structural(info, hits, snapshot)


def drafts(info: QueryInfo, kinds: frozenset[str], hits: Sequence[Hit], snapshot: Any,
           statuses: dict[str, DocStatus], filters: Filters | None, *, k: int, settings: Any
           ) -> tuple[tuple[LegalDraft, bool] | None, str]:
    """The provision-level draft (if the question gets one) and the text the extractive answer would give:
    that draft's, or the sentence picker's over the top k. Abstention reads the text before deciding."""
    legal = _legal_draft(info, kinds, hits, snapshot, statuses, filters)
    if legal is not None:
        return legal, legal[0].text
    if not hits:
        return None, ""
    return None, compose_extractive(info, sources_for(hits, snapshot, k), snapshot.idf,
                                    max_sentences=settings.max_answer_sentences,
                                    actor=obligations_actor(info.standalone), unseen=snapshot.idf_unseen)


def speaks_of_unknown_text(info: QueryInfo, hits: Sequence[Hit], snapshot: Any) -> bool:
    """True unless the question asks about a legal text the store does not hold and none of the passages both
    names that text and holds the kind of fact asked ("Luật BHXH sửa đổi có hiệu lực từ ngày nào?" is not
    answered by another law's effective-date clause, nor by the dispatch that only names the law)."""
    names = unknown_names(snapshot, info)
    if not names:
        return True
    about = [h.chunk.text for h in hits if mentions_any(h.chunk.text, names)]
    return bool(about) and missing_need(info.standalone, about, translate_terms) is None


def evidence_features(info: QueryInfo, hits: Sequence[Hit], snapshot: Any, filters: Filters | None,
                      drafted: str = "") -> dict[str, float]:
    """The abstention model's inputs for one question (`drafted`: the provision-level draft, if any)."""
    named = [d for d in named_documents(snapshot, info) if not filters or d not in filters.exclude_doc_ids]
    unknown = names_unknown_document(snapshot, info) or (bool(filters and filters.exclude_doc_ids) and not named
                                                         and bool(named_documents(snapshot, info)))
    return features(info, hits, snapshot, named=bool(named), exact=bool(named and info.article), unknown=unknown,
                    drafted=drafted, allowed=allowed_docs(snapshot, filters))


def with_status(citation: Citation, status: DocStatus | None) -> Citation:
    """A citation with the validity of its text on the question's date (nothing when unknown)."""
    if status is None or status.state == "unknown":
        return citation
    return replace(citation, status=status.state, replaced_by=status.replaced_by, ended_on=status.ended_on)


def _legal_draft(info: QueryInfo, kinds: frozenset[str], hits: Sequence[Hit], snapshot: Any,
                 statuses: dict[str, DocStatus], filters: Filters | None) -> tuple[LegalDraft, bool] | None:
    """The provision-level draft for a legal question, and whether it is a direct one (an exact reference
    or a validity question about a named text, which need no retrieval evidence); None otherwise."""
    named = named_documents(snapshot, info)
    if named and kinds & {"ends", "effective"}:
        draft = compose_validity(info, named[0], snapshot, statuses, kinds=kinds)
        if draft is not None:
            return draft, True
    if named and info.article and filters is None:
        draft = compose_exact(info, exact_unit_chunks(snapshot, named, info), snapshot,
                              status_of=lambda d: statuses[d])
        if draft is not None:
            return draft, True
    if not hits or hits[0].chunk.kind in ("header", "closing") or not hits[0].chunk.article:
        return None  # the best evidence is not a legal provision: the sentence picker answers
    draft = compose_legal(info, hits, snapshot, kinds=kinds, status_of=lambda d: statuses[d],
                          stale=stale_docs(statuses, named))
    return (draft, False) if draft is not None else None


def _verified_text(draft: str, sources: Sequence[Source], doc_texts: dict[str, str]) -> str:
    """What the verifier keeps of a partial draft ("" while nothing is supported, so no answer starts)."""
    verified = verify(draft, sources, doc_texts)
    return verified.text if verified.citations else ""


def _abstain(question: str, info: QueryInfo, related: Sequence[Hit], timings: dict[str, float],
             t0: float) -> Answer:
    timings["total_ms"] = (time.perf_counter() - t0) * 1000
    return Answer(question=question, standalone_question=info.standalone, text=ABSTAIN_TEXT[info.language],
                  citations=(), abstained=True, related=tuple(related), hits=tuple(related),
                  language=info.language, timings=timings)  # type: ignore[arg-type]

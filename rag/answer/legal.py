"""Provision-level extractive answers over legal texts (no LLM).

The answer leads with the legal reference in words ("Theo điểm h khoản 2 Điều 7 Nghị định 168/2024/NĐ-CP:")
and quotes whole provisions, line by line, each line cited: a point with its article heading and its clause's
lead-in (which often carries the fine), a list with all its items, an exact reference with exactly that unit.
A fine also gets the lines of the same article that refer back to the act (additional penalties, licence
points). Every quoted line is verbatim text of a stored chunk, so the verifier checks it like any sentence.
This module composes the answer; which provisions and lines it quotes is rag.answer.legal_select, the roles and
facts tables rag.answer.legal_tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.answer.delayed import delayed_effect
from rag.answer.evidence import content_terms
from rag.answer.legal_select import (
    MAX_LINES,
    SECOND_LINES,
    _extras,
    _is_penalty_clause,
    best_point,
    pick_provisions,
    unit_block,
)
from rag.answer.legal_tables import fact_span
from rag.answer.provision import Line, Ref, article_chunks, article_title, chunk_ref, clause_lead, doc_words, unit_lines
from rag.answer.verify import LIST_PREFIX, Source, split_claims
from rag.query import QueryInfo
from rag.records import Chunk, Hit
from rag.text.quantities import asked_quantities
from rag.validity_status import DocStatus, FactRef, fact_line

StatusOf = Callable[[str], DocStatus]

NOTE = {
    "extra": {"vi": "Cùng điều này quy định thêm đối với hành vi trên:",
              "en": "The same article adds, for this act:"},
    "delayed": {"vi": "Lưu ý: quy định này có ngày hiệu lực riêng:",
                "en": "Note: this provision has its own effective date:"},
    "ended": {"vi": "Lưu ý: văn bản này đã hết hiệu lực; văn bản thay thế quy định:",
              "en": "Note: this text is no longer in force; the text that replaced it says:"},
    "in_force": {"vi": "Văn bản này đang có hiệu lực (không có văn bản nào trong kho thay thế nó):",
                 "en": "This text is in force (no stored text replaces it):"},
    "not_yet": {"vi": "Văn bản này chưa có hiệu lực vào ngày được hỏi:",
                "en": "This text is not yet in force on the date asked about:"},
}


@dataclass(frozen=True)
class LegalDraft:
    text: str
    sources: tuple[Source, ...]


class _Draft:
    """Lines of an answer and the chunks they cite, numbered in order of first use."""

    def __init__(self, snapshot: Any, language: str) -> None:
        self.snapshot = snapshot
        self.language = language
        self.lines: list[str] = []
        self.sources: dict[str, Source] = {}
        self.quoted: set[tuple[str, int, int]] = set()

    def cite(self, chunk: Chunk) -> int:
        if chunk.id not in self.sources:
            meta = self.snapshot.docs[chunk.doc_id].meta
            self.sources[chunk.id] = Source(n=len(self.sources) + 1, chunk=chunk, meta=meta)
        return self.sources[chunk.id].n

    def frame(self, text: str) -> None:
        self.lines.append(text)

    def quote(self, line: Line) -> None:
        key = (line.chunk.doc_id, line.chunk.start + line.start, line.chunk.start + line.end)
        if key in self.quoted:
            return
        self.quoted.add(key)
        n = self.cite(line.chunk)
        text = line.text
        m = LIST_PREFIX.match(text)
        prefix, rest = (text[:m.end()], text[m.end():]) if m else ("", text)
        self.lines.append(prefix + " ".join(f"{p.strip()} [{n}]" for p in split_claims(rest)))

    def result(self) -> LegalDraft:
        return LegalDraft("\n".join(self.lines), tuple(self.sources.values()))


def reference_lead(ref: Ref, meta: Any, language: str) -> str:
    where = ref.words()
    doc = doc_words(meta)
    if language == "en":
        return f"According to {where} of {doc} (quoted in Vietnamese):" if where else f"According to {doc}:"
    return f"Theo {where} {doc}:" if where else f"Theo {doc}:"


def _terms(info: QueryInfo) -> list[str]:
    return content_terms(info.expanded)


def _status_note(d: _Draft, status: DocStatus) -> None:
    if status.state == "ended" and status.ended_by is not None:
        line = fact_line(d.snapshot, status.ended_by)
        if line is not None:
            d.frame(NOTE["ended"][d.language])
            d.quote(line)


def compose_legal(info: QueryInfo, hits: Sequence[Hit], snapshot: Any, *, kinds: frozenset[str],
                  status_of: StatusOf, stale: frozenset[str] = frozenset()) -> LegalDraft | None:
    """A provision-level answer when the best evidence is a legal text, else None (the caller falls back).
    `stale`: documents not in force on the question's date that it does not name."""
    terms = _terms(info)
    quantities = asked_quantities(info.standalone)
    chosen = pick_provisions(info, hits, snapshot, kinds, quantities, stale)
    if not chosen:
        return None
    d = _Draft(snapshot, info.language)
    for i, h in enumerate(chosen):
        meta = snapshot.docs[h.chunk.doc_id].meta
        d.frame(reference_lead(chunk_ref(h.chunk), meta, info.language))
        block = unit_block(snapshot, h.chunk, terms, kinds, MAX_LINES if i == 0 else SECOND_LINES, quantities)
        extras: list[Line] = []
        if _is_penalty_clause(snapshot, h.chunk):
            point = chunk_ref(h.chunk).point or best_point(block, terms, snapshot, quantities)
            extras = _extras(snapshot, h.chunk, point)
        fact = fact_span(info, kinds, block, extras) if i == 0 else None
        if fact is not None:
            d.quote(fact)  # the short fact first, verbatim; the provision it comes from follows
        for line in block:
            d.quote(line)
        if extras:
            d.frame(NOTE["extra"][info.language])
            for line in extras:
                d.quote(line)
        delayed = delayed_effect(snapshot, h.chunk)
        if delayed is not None and delayed not in block:
            d.frame(NOTE["delayed"][info.language])
            d.quote(delayed)
        _status_note(d, status_of(h.chunk.doc_id))
    return d.result()


def exact_unit_chunks(snapshot: Any, doc_ids: Sequence[str], info: QueryInfo) -> list[Chunk]:
    """The chunks of exactly the unit an exact reference names (Điều, khoản of it, điểm of that)."""
    out: list[Chunk] = []
    for doc_id in doc_ids:
        for c in article_chunks(snapshot, doc_id, info.article or ""):
            ref = chunk_ref(c)
            if info.clause and ref.clause != info.clause:
                continue
            if info.point and ref.point not in (None, info.point):
                continue
            out.append(c)
    return out


def compose_exact(info: QueryInfo, chunks: Sequence[Chunk], snapshot: Any, *, status_of: StatusOf) -> LegalDraft | None:
    """Quote exactly the unit an exact reference names (`điểm c khoản 7 Điều 7 Nghị định 168/2024/NĐ-CP`)."""
    if not chunks:
        return None
    d = _Draft(snapshot, info.language)
    first = chunks[0]
    meta = snapshot.docs[first.doc_id].meta
    ref = Ref(info.article, info.clause, info.point)
    d.frame(reference_lead(ref, meta, info.language))
    heading = article_title(snapshot, first)
    lines = unit_lines(chunks)
    if info.point:
        lead = clause_lead(snapshot, first) if chunk_ref(first).point else None
        letter = re.compile(rf"^{re.escape(info.point)}\)\s")
        start = next((i for i, ln in enumerate(lines) if letter.match(ln.text)), None)
        if start is None:
            return None
        lines = ([lead] if lead else [lines[0]]) + [lines[start]]
    if heading and (not lines or lines[0] != heading):
        lines = [heading, *lines]
    for line in lines[: MAX_LINES * 2]:
        d.quote(line)
    _status_note(d, status_of(first.doc_id))
    return d.result()


def compose_validity(info: QueryInfo, doc_id: str, snapshot: Any, statuses: dict[str, DocStatus], *,
                     kinds: frozenset[str]) -> LegalDraft | None:
    """'Luật X còn hiệu lực không?', 'văn bản nào thay thế…', 'có hiệu lực từ ngày nào?': answered from the
    validity statements of the stored texts, each quoted from the clause that makes it."""
    status = statuses.get(doc_id)
    if status is None:
        return None
    d = _Draft(snapshot, info.language)

    def quote_fact(ref: FactRef | None) -> bool:
        line = fact_line(snapshot, ref) if ref else None
        if ref is None or line is None:
            return False
        meta = snapshot.docs[ref.doc_id].meta
        d.frame(reference_lead(Ref(ref.fact.article, ref.fact.clause), meta, info.language))
        d.quote(line)
        return True

    if "ends" in kinds or "effective" not in kinds:
        if status.state == "ended" and status.ended_by is not None:
            quote_fact(status.ended_by)
            by = statuses.get(status.ended_by.doc_id)
            if by is not None and status.ended_by.doc_id != doc_id:
                quote_fact(by.effective_fact)  # "kể từ ngày Luật này có hiệu lực": the date is stated there
        elif status.state in ("in_force", "not_yet") and status.effective_fact is not None:
            d.frame(NOTE[status.state][info.language])
            quote_fact(status.effective_fact)
    if "effective" in kinds and "ends" not in kinds:
        quote_fact(status.effective_fact)
        for fact in snapshot.docs[doc_id].meta.validity:
            if fact.kind == "effective_part":
                quote_fact(FactRef(doc_id, fact))
    return d.result() if d.sources else None

"""Which stored texts are in force on a date, from what the texts themselves state (their Điều "Hiệu lực thi
hành"): a text ends when it says so, or when another stored text ends or replaces it by its số hiệu."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from rag.answer.provision import Line, chunk_lines, doc_chunks
from rag.records import StoredDocument, ValidityFact
from rag.text.docnumber import normalize_doc_number

State = Literal["in_force", "ended", "not_yet", "unknown"]
_ENDING = frozenset({"ends_other", "replaces"})


@dataclass(frozen=True)
class FactRef:
    """A validity statement and the document it is written in."""

    doc_id: str
    fact: ValidityFact


@dataclass(frozen=True)
class DocStatus:
    state: State
    effective_from: str | None = None
    ended_on: str | None = None
    ended_by: FactRef | None = None  # the statement that ended it (in this text or in another)
    replaced_by: str | None = None  # số hiệu of the text holding that statement, when it is another one
    effective_fact: FactRef | None = None  # the statement of its own effect

    @property
    def in_force(self) -> bool:
        return self.state in ("in_force", "unknown")


def today() -> str:
    return date.today().isoformat()


def _own_effect(doc_id: str, doc: StoredDocument) -> FactRef | None:
    fact = next((f for f in doc.meta.validity if f.kind == "effective"), None)
    return FactRef(doc_id, fact) if fact else None


def _endings(docs: Mapping[str, StoredDocument]) -> dict[str, list[tuple[str, FactRef]]]:
    """doc id → (date, statement) of every stored statement that ends it."""
    by_number = {normalize_doc_number(d.meta.number): i for i, d in docs.items() if d.meta.number}
    out: dict[str, list[tuple[str, FactRef]]] = {}
    for doc_id, doc in docs.items():
        for fact in doc.meta.validity:
            if fact.kind == "ends" and (fact.date or doc.meta.effective_to):
                out.setdefault(doc_id, []).append((fact.date or doc.meta.effective_to or "", FactRef(doc_id, fact)))
            elif fact.kind in _ENDING and fact.target:
                target = by_number.get(normalize_doc_number(fact.target))
                when = fact.date or doc.meta.effective_from
                if target is not None and target != doc_id and when:
                    out.setdefault(target, []).append((when, FactRef(doc_id, fact)))
    return out


def doc_statuses(docs: Mapping[str, StoredDocument], as_of: str | None = None) -> dict[str, DocStatus]:
    """The validity of every stored document on as_of (ISO date; default today)."""
    as_of = as_of or today()
    endings = _endings(docs)
    out: dict[str, DocStatus] = {}
    for doc_id, doc in docs.items():
        start = doc.meta.effective_from
        own = _own_effect(doc_id, doc)
        ends = sorted(endings.get(doc_id, []), key=lambda e: e[0])
        if ends and ends[0][0] <= as_of:
            when, ref = ends[0]
            other = docs[ref.doc_id].meta.number if ref.doc_id != doc_id else None
            out[doc_id] = DocStatus("ended", start, when, ref, other, own)
        elif start and as_of < start:
            out[doc_id] = DocStatus("not_yet", start, None, None, None, own)
        elif start or ends:
            out[doc_id] = DocStatus("in_force", start, None, None, None, own)
        else:
            out[doc_id] = DocStatus("unknown")
    return out


def stale_docs(statuses: Mapping[str, DocStatus], named: Iterable[str] = ()) -> frozenset[str]:
    """Documents not in force on the question's date, except those the question names (asked about on purpose)."""
    keep = set(named)
    return frozenset(d for d, st in statuses.items() if not st.in_force and d not in keep)


def fact_line(snapshot: Any, ref: FactRef) -> Line | None:
    """The stored line that states a validity fact (what an answer quotes for it)."""
    for chunk in doc_chunks(snapshot, ref.doc_id):
        if chunk.start <= ref.fact.start < chunk.end:
            offset = ref.fact.start - chunk.start
            for line in chunk_lines(chunk):
                if line.start <= offset < line.end or offset < line.start:
                    return line
    return None


def status_words(citation: Any, language: str = "vi") -> str:
    """' (hết hiệu lực từ 2025-01-01; thay bằng 36/2024/QH15)' for a citation to a text not in force, else ''."""
    if citation.status == "ended":
        by = f"; thay bằng {citation.replaced_by}" if citation.replaced_by else ""
        if language == "en":
            by = f"; replaced by {citation.replaced_by}" if citation.replaced_by else ""
            return f" (no longer in force since {citation.ended_on}{by})"
        return f" (hết hiệu lực từ {citation.ended_on}{by})"
    if citation.status == "not_yet":
        return " (not yet in force)" if language == "en" else " (chưa có hiệu lực)"
    return ""

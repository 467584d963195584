"""ParsedDocument → Chunks: one structural unit (or a slice of one) per chunk, within a token budget."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import NamedTuple

from ingest.parse.pages import page_starts, pages_of, words_in
from ingest.parse.structure import trim_end
from rag.records import Chunk, ParsedDocument, Unit, chunk_id

TokenCounter = Callable[[str], int]

_CONTAINERS = frozenset({"phan", "chuong", "muc", "section"})
_PACKABLE = frozenset({"bullet", "paragraph"})  # consecutive small siblings of these kinds share a chunk
_BOUNDARY = re.compile(r"[.;!?…:](?=\s)|\n")
_WORD = re.compile(r"\S+")
_HEADING_CHARS = 300


class _Span(NamedTuple):
    start: int
    end: int
    unit: int  # index into doc.units; -1 for text no unit covers
    last: int  # index of the last unit when siblings were packed together
    part: int  # 1-based part number when a unit was cut by sentences, 0 when whole


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: ceil(1.4 × whitespace-separated words).

    Vietnamese syllables are written as separate words and multilingual subword tokenizers
    (e5, bge-m3) spend about 1.2–1.5 tokens per syllable, so 1.4 errs on the safe side.
    """
    return math.ceil(1.4 * len(text.split()))


def _children(units: tuple[Unit, ...]) -> tuple[list[int], dict[int, list[int]]]:
    """Top-level unit indices and each unit's direct children, from the flattened paths."""
    roots: list[int] = []
    kids: dict[int, list[int]] = {}
    stack: list[int] = []
    for i, u in enumerate(units):
        while stack and units[stack[-1]].path != u.path[:-1]:
            stack.pop()
        if stack:
            kids.setdefault(stack[-1], []).append(i)
        else:
            roots.append(i)
        stack.append(i)
    return roots, kids


class _Plan(NamedTuple):
    """What the splitting functions share: the document, the budget and the unit tree."""

    doc: ParsedDocument
    fits: Callable[[int, int], bool]
    kids: dict[int, list[int]]


def _siblings(plan: _Plan, idxs: list[int], out: list[_Span], parent: int = -1, lead: int = -1) -> None:
    """Emit sibling units; the parent's lead text (from offset lead) joins the first sibling if it fits."""
    units = plan.doc.units
    k = 0
    while k < len(idxs):
        i = idxs[k]
        start = units[i].start
        if k == 0 and parent >= 0 and 0 <= lead < start:
            if plan.fits(lead, units[i].end):
                start = lead
            else:
                _cut(plan, lead, start, parent, out)  # the lead alone
        j = k
        if units[i].kind in _PACKABLE and i not in plan.kids:
            while (j + 1 < len(idxs) and units[idxs[j + 1]].kind == units[i].kind
                   and idxs[j + 1] not in plan.kids and plan.fits(start, units[idxs[j + 1]].end)):
                j += 1
        if j > k:
            out.append(_Span(start, units[idxs[j]].end, i, idxs[j], 0))
        else:
            _unit(plan, i, start, out)
        k = j + 1


def _unit(plan: _Plan, i: int, start: int, out: list[_Span]) -> None:
    """Emit unit i whole when it fits, else its children (or sentence slices when it has none)."""
    u = plan.doc.units[i]
    kids = plan.kids.get(i, [])
    if u.kind not in _CONTAINERS and plan.fits(start, u.end):
        out.append(_Span(start, u.end, i, i, 0))
    elif not kids:
        _cut(plan, start, u.end, i, out)
    elif u.kind in ("phan", "chuong", "muc"):
        # A chapter heading is its own small chunk, so that every Điều starts a chunk of its own.
        _cut(plan, start, plan.doc.units[kids[0]].start, i, out)
        _siblings(plan, kids, out)
    else:
        _siblings(plan, kids, out, parent=i, lead=start)


def _cut(plan: _Plan, start: int, end: int, i: int, out: list[_Span]) -> None:
    """Emit text[start:end] of unit i, packed by sentences (then words) when over budget."""
    text = plan.doc.text
    end = trim_end(text, start, end)
    if end <= start:
        return
    if plan.fits(start, end):
        out.append(_Span(start, end, i, i, 0))
        return
    for n, (s, e) in enumerate(_pieces(text, start, end, plan.fits), 1):
        out.append(_Span(s, e, i, i, n))


def _pieces(text: str, start: int, end: int, fits: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Greedy packing of sentences (cut after . ; : ! ? or a newline); words when one sentence is too long."""
    cuts = [m.end() for m in _BOUNDARY.finditer(text, start, end)] + [end]
    out: list[tuple[int, int]] = []
    cur = start
    prev = start
    for c in cuts:
        if c <= prev:
            continue
        if prev > cur and not fits(cur, c):
            out.append((cur, prev))
            cur = prev
        if not fits(cur, c):
            out.extend(_word_pieces(text, cur, c, fits))
            cur = c
        prev = c
    if prev > cur:
        out.append((cur, prev))
    trimmed = [(_skip_space(text, s, e), trim_end(text, s, e)) for s, e in out]
    return [(s, e) for s, e in trimmed if e > s]


def _word_pieces(text: str, start: int, end: int, fits: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Greedy runs of whole words; galloping search keeps a 100k-word line from costing quadratic time."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    out: list[tuple[int, int]] = []
    k = 0
    while k < len(words):
        first = words[k][0]
        lo, step = k, 1  # words[k..lo] fit (a single word always goes, even when over budget)
        while lo + step < len(words) and fits(first, words[lo + step][1]):
            lo, step = lo + step, step * 2
        hi = min(lo + step, len(words)) - 1  # the answer lies in [lo, hi]
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(first, words[mid][1]):
                lo = mid
            else:
                hi = mid - 1
        out.append((first, words[lo][1]))
        k = lo + 1
    return out


def _skip_space(text: str, start: int, end: int) -> int:
    while start < end and text[start].isspace():
        start += 1
    return start


def document_label(doc: ParsedDocument) -> str:
    """"Luật 36/2024/QH15", "Công văn /STTTT-TTBCXB"; the title when there is no number."""
    meta = doc.meta
    if meta.number:
        kind = (meta.doc_type or "văn bản").strip()
        return f"{kind[:1].upper()}{kind[1:]} {meta.number}"
    return meta.title[:80] or doc.doc_id


def _heading(doc: ParsedDocument, u: Unit, first_child: int | None) -> str:
    """One-line heading of an enclosing unit for the context of its descendants."""
    if u.kind in _CONTAINERS or u.kind == "dieu":
        return f"{u.label}. {u.title}" if u.title else u.label
    end = first_child if first_child is not None else u.end
    lead = " ".join(doc.text[u.start : end].split())
    return lead if len(lead) <= _HEADING_CHARS else lead[:_HEADING_CHARS].rsplit(" ", 1)[0] + "…"


def _meta_lines(doc: ParsedDocument) -> list[str]:
    m = doc.meta
    signer = f"{m.signer} ({m.signer_title})" if m.signer and m.signer_title else m.signer
    rows = [
        ("Loại văn bản", m.doc_type),
        ("Số hiệu", m.number),
        ("Ngày ban hành", m.issued_date or "không ghi"),
        ("Cơ quan ban hành", m.issuer),
        ("Cơ quan chủ quản", m.parent_issuer),
        ("Người ký", signer),
    ]
    return [f"{k}: {v}" for k, v in rows if v]


def _chunk(doc: ParsedDocument, span: _Span, ordinal: int, label: str, ancestors: list[int],
           kids: dict[int, list[int]]) -> Chunk:
    units = doc.units
    u = units[span.unit] if span.unit >= 0 else None
    path = list(u.path) if u else []
    if u and span.last != span.unit:
        path[-1] = f"{u.label}–{units[span.last].label}"
    crumb = " › ".join([label, *path]) + (f" (phần {span.part})" if span.part else "")
    headings = []
    for a in ancestors:
        if units[a].start < span.start:  # a heading that starts inside the chunk is already in its text
            first = kids.get(a, [None])[0]
            headings.append(_heading(doc, units[a], units[first].start if first is not None else None))
    extra = _meta_lines(doc) if u and u.kind == "header" else []
    context = "\n".join(x for x in [doc.meta.title, crumb, *headings, *extra] if x)
    text = doc.text[span.start : span.end]
    article = next((p.split(" ", 1)[1] for p in path if p.startswith("Điều ")), None)
    clause = next((p.split(" ", 1)[1] for p in path if p.startswith("Khoản ")), None)
    top = units[ancestors[0]] if ancestors else u
    section = top.label if top and top.kind == "section" else None
    notes = tuple(f for f in doc.footnotes if f.cited_at is not None and span.start <= f.cited_at < span.end)
    return Chunk(
        id=chunk_id(doc.doc_id, crumb, text),
        doc_id=doc.doc_id,
        ordinal=ordinal,
        text=text,
        start=span.start,
        end=span.end,
        breadcrumb=crumb,
        kind=u.kind if u else "paragraph",
        article=article,
        clause=clause,
        section=section,
        footnotes=notes,
        context=context,
        pages=pages_of(doc.pages, span.start, span.end),
        page_starts=page_starts(doc.pages, span.start, span.end),
        words=words_in(doc.pages, span.start, span.end),
    )


def _gaps(text: str, spans: list[_Span]) -> list[_Span]:
    """Spans for any non-blank text no unit covered (defensive: nothing may be lost)."""
    out: list[_Span] = []
    pos = 0
    for s in sorted(spans) + [_Span(len(text), len(text), -1, -1, 0)]:
        if s.start > pos and text[pos : s.start].strip():
            a = _skip_space(text, pos, s.start)
            out.append(_Span(a, trim_end(text, a, s.start), -1, -1, 0))
        pos = max(pos, s.end)
    return out


def chunk_document(
    doc: ParsedDocument, *, max_tokens: int = 400, count_tokens: TokenCounter | None = None
) -> list[Chunk]:
    """Chunks in reading order; each text is doc.text[start:end] and no non-blank text is left out."""
    count = count_tokens or estimate_tokens
    roots, kids = _children(doc.units)
    plan = _Plan(doc, lambda a, b: count(doc.text[a:b]) <= max_tokens, kids)
    spans: list[_Span] = []
    _siblings(plan, roots, spans)
    spans += _gaps(doc.text, spans)
    spans.sort(key=lambda s: (s.start, s.end))
    label = document_label(doc)
    parents: dict[int, int] = {k: p for p, ks in kids.items() for k in ks}
    chunks = []
    for n, span in enumerate(spans):
        ancestors: list[int] = []
        a = parents.get(span.unit)
        while a is not None:
            ancestors.insert(0, a)
            a = parents.get(a)
        chunks.append(_chunk(doc, span, n, label, ancestors, kids))
    return chunks

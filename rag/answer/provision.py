"""Legal provisions around a chunk: where it sits (Điều/Khoản/Điểm), its reference in words, its clause's
lead-in, the other chunks of its clause and article, and the in-article references ("điểm c khoản 7 Điều này")
that tie a fine to its additional penalties and licence points."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.records import Chunk, DocumentMeta
from rag.text.docnumber import LEGAL_TYPES

# "điểm a, điểm b khoản 2", "các điểm d, e, g khoản 3", "khoản 5", "điểm b khoản 7, điểm c khoản 9 Điều này"
_REF_ITEM = re.compile(r"(?:các\s+)?điểm\s+([a-zđ](?:\s*(?:,|và)\s*(?:điểm\s+)?[a-zđ](?![\w]))*)\s+khoản\s+(\d+)"
                       r"|khoản\s+(\d+)", re.IGNORECASE)
_THIS_ARTICLE = re.compile(r"Điều này", re.IGNORECASE)


@dataclass(frozen=True)
class Ref:
    """A position in a legal text; None where the chunk does not go that deep."""

    article: str | None = None
    clause: str | None = None
    point: str | None = None

    def words(self) -> str:
        """'điểm h khoản 2 Điều 7', 'khoản 1 Điều 33', 'Điều 12' ('' outside any Điều)."""
        parts = []
        if self.point:
            parts.append(f"điểm {self.point}")
        if self.clause:
            parts.append(f"khoản {self.clause}")
        if self.article:
            parts.append(f"Điều {self.article}")
        return " ".join(parts)


def chunk_ref(chunk: Chunk) -> Ref:
    """Where a chunk sits, read from its breadcrumb ('… › Điều 7 › Khoản 2 › Điểm h')."""
    article = clause = point = None
    for part in chunk.breadcrumb.split(" › "):
        part = part.split(" (phần")[0]
        if part.startswith("Điều "):
            article = part[5:]
        elif part.startswith("Khoản ") and "–" not in part:
            clause = part[6:]
        elif part.startswith("Điểm ") and "–" not in part:
            point = part[5:]
    return Ref(article, clause, point)


def is_legal(meta: DocumentMeta) -> bool:
    return (meta.doc_type or "").lower() in LEGAL_TYPES


def doc_words(meta: DocumentMeta) -> str:
    """How an answer names a document: 'Luật Trật tự, an toàn giao thông đường bộ (36/2024/QH15)',
    'Nghị định 168/2024/NĐ-CP' (a decree's title is its whole subject line: too long to repeat)."""
    kind = (meta.doc_type or "văn bản").strip()
    title = meta.title or ""
    if meta.number and kind.lower() in ("luật", "bộ luật") and len(title.split()) <= 12:
        return f"{title[:1].upper()}{title[1:]} ({meta.number})"
    if meta.number:
        return f"{kind[:1].upper()}{kind[1:]} {meta.number}"
    return title


def doc_chunks(snapshot: Any, doc_id: str) -> list[Chunk]:
    return [snapshot.chunks[c] for c in snapshot.by_doc.get(doc_id, ()) if c in snapshot.chunks]


def article_chunks(snapshot: Any, doc_id: str, article: str) -> list[Chunk]:
    """The chunks of one Điều, in reading order."""
    return [c for c in doc_chunks(snapshot, doc_id) if c.article == article]


def clause_chunks(snapshot: Any, doc_id: str, article: str, clause: str) -> list[Chunk]:
    """The chunks of one Khoản (its lead and its points), in reading order."""
    return [c for c in article_chunks(snapshot, doc_id, article) if chunk_ref(c).clause == clause]


@dataclass(frozen=True)
class Line:
    """One line of a chunk's text: what an answer quotes, verbatim."""

    chunk: Chunk
    start: int  # offsets in chunk.text
    end: int

    @property
    def text(self) -> str:
        return self.chunk.text[self.start:self.end]


def chunk_lines(chunk: Chunk) -> list[Line]:
    """Non-blank lines of a chunk, trimmed."""
    out: list[Line] = []
    pos = 0
    for raw in chunk.text.split("\n"):
        stripped = raw.strip()
        if stripped:
            s = pos + raw.index(stripped[0])
            out.append(Line(chunk, s, s + len(stripped)))
        pos += len(raw) + 1
    return out


def unit_lines(chunks: Sequence[Chunk]) -> list[Line]:
    """Lines of several chunks in order, without the repeated lines a split unit may share."""
    seen: set[tuple[str, int]] = set()
    out: list[Line] = []
    for c in chunks:
        for ln in chunk_lines(c):
            key = (c.doc_id, c.start + ln.start)
            if key not in seen:
                seen.add(key)
                out.append(ln)
    return out


def clause_lead(snapshot: Any, chunk: Chunk) -> Line | None:
    """The first line of the chunk's Khoản ("2. Phạt tiền từ … sau đây:") when the chunk is one of its points."""
    ref = chunk_ref(chunk)
    if not (ref.article and ref.clause and ref.point):
        return None
    for c in clause_chunks(snapshot, chunk.doc_id, ref.article, ref.clause):
        lines = chunk_lines(c)
        if lines and re.match(rf"{re.escape(ref.clause)}\s?\.\s", lines[0].text):
            return lines[0]
    return None


def article_title(snapshot: Any, chunk: Chunk) -> Line | None:
    """The 'Điều N. Title' line of the chunk's article."""
    ref = chunk_ref(chunk)
    if not ref.article:
        return None
    for c in article_chunks(snapshot, chunk.doc_id, ref.article):
        lines = chunk_lines(c)
        if lines and lines[0].text.startswith(f"Điều {ref.article}."):
            return lines[0]
    return None


def internal_refs(text: str) -> set[tuple[str, str | None]]:
    """(khoản, điểm) pairs a provision refers to inside its own article ("… khoản 9 Điều này"); a whole
    clause is (khoản, None)."""
    if not _THIS_ARTICLE.search(text):
        return set()
    refs: set[tuple[str, str | None]] = set()
    for m in _REF_ITEM.finditer(text):
        if m.group(2):
            for letter in re.findall(r"(?<![\w])([a-zđ])(?![\w])", m.group(1)):
                refs.add((m.group(2), letter))
        else:
            refs.add((m.group(3), None))
    return refs


def points_referring(snapshot: Any, chunk: Chunk, point: str | None = None) -> list[Line]:
    """Lines of the same article that refer to this provision (or to one point of it) by "điểm x khoản n
    Điều này" (additional penalties, licence points, remedies), in reading order."""
    ref = chunk_ref(chunk)
    if not (ref.article and ref.clause):
        return []
    if point is not None:
        ref = Ref(ref.article, ref.clause, point)
    out: list[Line] = []
    for c in article_chunks(snapshot, chunk.doc_id, chunk.article or ""):
        if chunk_ref(c).clause == ref.clause:
            continue
        for ln in chunk_lines(c):
            refs = internal_refs(ln.text)
            if (ref.clause, ref.point) in refs or (ref.clause, None) in refs:
                out.append(ln)
    return out

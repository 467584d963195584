"""Provisions that take effect later than their text: a law's "Hiệu lực thi hành" article may give some of its
own units another date ("Khoản 3 Điều 10 của Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2026").
An answer that quotes such a unit quotes that clause too, so nobody reads a rule as in force before it is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rag.answer.provision import Line, Ref, chunk_lines, chunk_ref, doc_chunks
from rag.records import Chunk

__all__ = ["DelayedUnit", "delayed_effect"]

_EFFECT_TITLE = re.compile(r"^Điều \d+[a-zđ]?\.\s+Hiệu lực thi hành", re.IGNORECASE)
_TAKES_EFFECT = re.compile(r"có hiệu lực(?: thi hành)? từ ngày", re.IGNORECASE)
# "điểm a và điểm b khoản 2 Điều 42", "khoản 1 Điều 84", "Điều 43", "điểm m khoản 3 Điều 6"
_UNIT = re.compile(r"(?P<points>(?:điểm [a-zđ](?:,\s*|\s+và\s+))*điểm [a-zđ]\s+)?"
                   r"(?P<clauses>(?:khoản \d+(?:,\s*|\s+và\s+))*khoản \d+\s+)?Điều (?P<article>\d+[a-zđ]?)\b",
                   re.IGNORECASE)


@dataclass(frozen=True)
class DelayedUnit:
    """A unit of a text that takes effect on its own date, and the line of the effect article that says so."""

    article: str
    clauses: frozenset[str]  # empty: the whole article
    points: frozenset[str]  # empty: the whole clause(s)
    line: Line


def _units(line: Line) -> list[DelayedUnit]:
    out = []
    for m in _UNIT.finditer(line.text):
        clauses = frozenset(re.findall(r"\d+", m.group("clauses") or ""))
        points = frozenset(re.findall(r"điểm ([a-zđ])", (m.group("points") or "").lower()))
        out.append(DelayedUnit(m.group("article"), clauses, points, line))
    return out


def delayed_units(snapshot: Any, doc_id: str) -> list[DelayedUnit]:
    """The units of one document that its effect article gives their own date, built once per snapshot."""
    cache: dict[str, list[DelayedUnit]] = snapshot.derived.setdefault("delayed_units", {})
    found = cache.get(doc_id)
    if found is None:
        found = []
        article: str | None = None
        for chunk in doc_chunks(snapshot, doc_id):
            lines = chunk_lines(chunk)
            if lines and _EFFECT_TITLE.match(lines[0].text):
                article = chunk.article
            if article is None or chunk.article != article:
                continue
            for line in lines:
                if _TAKES_EFFECT.search(line.text) and "hết hiệu lực" not in line.text:
                    found += _units(line)
        cache[doc_id] = found
    return found


def _covers(unit: DelayedUnit, ref: Ref) -> bool:
    """The quoted unit (`ref`) is, contains or lies inside the unit with its own date."""
    if ref.article != unit.article:
        return False
    if unit.clauses and ref.clause is not None and ref.clause not in unit.clauses:
        return False
    return not (unit.points and ref.point is not None and ref.point not in unit.points)


def delayed_effect(snapshot: Any, chunk: Chunk) -> Line | None:
    """The line of the chunk's document that gives the quoted unit (or a part of it) its own effective date."""
    ref = chunk_ref(chunk)
    if not ref.article:
        return None
    return next((u.line for u in delayed_units(snapshot, chunk.doc_id) if _covers(u, ref)), None)

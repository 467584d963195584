"""What a legal answer quotes: the best one or two provisions among the retrieved chunks, and their lines.

A provision scores by its rank plus how much of the question it covers; a penalty clause, the definition of an
asked term and the roles of rag.answer.legal_tables move it up or down. Its block is the whole unit where
short (a point with its article heading and its clause's lead-in, a clause, an article), else the heading and
lead-in followed by the lines that best match the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rag.answer.abstain import covered, pairs_covered, question_pairs, question_terms
from rag.answer.evidence import holds, needed, passage_terms
from rag.answer.legal_tables import misses_asked_role, names_other_role, unasked_article_kind
from rag.answer.provision import (
    Line,
    Ref,
    article_chunks,
    article_title,
    chunk_lines,
    chunk_ref,
    clause_chunks,
    clause_lead,
    is_legal,
    points_referring,
    unit_lines,
)
from rag.query import QueryInfo
from rag.records import Chunk, Hit
from rag.road_users import asked_road_users, other_road_users
from rag.text.normalize import fold_accents
from rag.text.quantities import Quantity, range_fit
from rag.text.question_kinds import PENALTY_KINDS

MAX_LINES = 16  # quoted lines of one provision block
CANDIDATES = 8  # retrieved chunks considered for the provision to quote
COVERAGE_WEIGHT = 0.6  # how much the question's terms found in a chunk (with its headings) count beside rank
PAIRS_WEIGHT = 0.3  # and its word pairs ("xe máy" is not "xe đạp máy")
SECOND_BLOCK = 0.96  # a second provision is quoted when it scores this close to the first
SECOND_LINES = 6  # and quoted more briefly
DEFINITION_BONUS = 0.5  # "X là gì?" and the clause "N. X là …" of the definitions article
LIST_BONUS = 0.2  # a question asking for a list, and a provision whose line introduces one
ROLE_PENALTY = 0.3  # a provision about a passenger, pedestrian or owner for a question about none of them
ROAD_USER_PENALTY = 0.3  # a provision whose article is about other road users than the question names
PENALTY_CLAUSE = 0.15  # a fine clause, up for a question about fines or points, down for any other question
ARTICLE_KIND_PENALTY = 0.3  # a transitional provision for a question about the rule itself
NEED_PENALTY = 0.3  # a provision without the kind of fact asked (an age, an amount, a time limit)
STALE_PENALTY = 0.4  # a text not in force that the question does not name (retrieval already halved its rank)
RANGE_WEIGHT = 0.3  # a provision grading the question's quantity (25 km/h in "trên 20 km/h đến 35 km/h"), or not
RANGE_LINE = 10.0  # and, inside a quoted clause, the point that grades it before any word match
IN_ARTICLE_MARGIN = 0.1  # another point of the chosen fine article replaces the retrieved one by this much
IN_ARTICLE_SHORTLIST = 8  # of the article's points sharing most question words, the ones scored in full
_DEFINES = re.compile(r"^(?:\d{1,3}\s?\.|[a-zđ]\))\s+(.{2,90}?)\s+(?:là|được hiểu là|bao gồm)[\s:]")
_COMPRISES = re.compile(r"\b(?:gom|loai|include|includes|types?|kinds?)\b")
_LISTS = re.compile(r"(?:sau đây|như sau|bao gồm|gồm)\s*:\s*$", re.MULTILINE)
_ARTICLE_HEADING = re.compile(r"^Điều \d+[a-zđ]?\.\s")
# "quy định tại khoản 1 Điều này" (a clause of the same article; a point of one is left alone)
_THIS_ARTICLE_CLAUSE = re.compile(r"(?<!\w)khoản (\d+) Điều này")
_THIS_ARTICLE_POINT = re.compile(r"(?<!\w)điểm [a-zđ]\)? (?:và điểm [a-zđ] )?khoản \d+ Điều này")
_PENALTY_LEAD = re.compile(r"^\d+\s?\.\s+Phạt (?:tiền|cảnh cáo)")


def _line_score(line: Line, terms: Sequence[str], idf: dict[str, float], unseen: float,
                quantities: Sequence[Quantity] = ()) -> float:
    present = passage_terms([line.text])
    words = sum(idf.get("~" + t, unseen) for t in terms if t in present)
    return words + RANGE_LINE * range_fit(quantities, line.text)


def _is_penalty_clause(snapshot: Any, chunk: Chunk) -> bool:
    lead = clause_lead(snapshot, chunk)
    first = lead.text if lead else (chunk_lines(chunk)[0].text if chunk.text.strip() else "")
    return bool(_PENALTY_LEAD.match(first))


def defines_asked_term(text: str, question: str) -> bool:
    """The chunk opens with the definition of a term the question names ("6. Làn đường là …"), after its
    article's heading when the chunk is the article's first clause."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and _ARTICLE_HEADING.match(lines[0]):
        lines = lines[1:]
    m = _DEFINES.match(lines[0]) if lines else None
    return m is not None and fold_accents(m.group(1)) in fold_accents(question)


def pick_provisions(info: QueryInfo, hits: Sequence[Hit], snapshot: Any, kinds: frozenset[str],
                    quantities: Sequence[Quantity] = (), stale: frozenset[str] = frozenset()) -> list[Hit]:
    """The best one or two legal chunks among the top hits: rank plus how much of the question they cover.
    A text in `stale` (not in force, not named by the question) is quoted only when nothing in force comes
    close: its wording often matches everyday questions better than the law that replaced it."""
    legal = [h for h in hits[:CANDIDATES] if h.chunk.article and is_legal(snapshot.docs[h.chunk.doc_id].meta)]
    if not legal:
        return []
    asked, pairs = question_terms(info), question_pairs(info)
    top = max(h.score for h in legal) or 1.0
    users = asked_road_users(info.standalone)
    wanted = needed(info.standalone)
    # "X là gì", or a list question about what X comprises ("X gồm những loại nào"), not "in which cases"
    defining = "definition" in kinds or ("list" in kinds and _COMPRISES.search(fold_accents(info.standalone.lower())))

    def content(chunk: Chunk) -> float:  # how well a chunk (with its headings) matches, rank aside
        text = chunk.search_text()
        score = COVERAGE_WEIGHT * covered(asked, [text], info, snapshot) + PAIRS_WEIGHT * pairs_covered(
            pairs, [text], info)
        if _is_penalty_clause(snapshot, chunk):  # duties and prohibitions are the laws', not the decree's
            score += PENALTY_CLAUSE if kinds & PENALTY_KINDS else -PENALTY_CLAUSE
        if chunk_ref(chunk) == Ref(chunk.article) and len(chunk_lines(chunk)) == 1:
            score -= 0.2  # an article heading alone quotes nothing
        if defining and defines_asked_term(chunk.text, info.standalone):
            score += DEFINITION_BONUS
        elif "list" in kinds and _LISTS.search(chunk.text):
            score += LIST_BONUS  # "trong những trường hợp nào": a provision that enumerates ("… sau đây:")
        if names_other_role(snapshot, chunk, info.standalone) or misses_asked_role(snapshot, chunk,
                                                                                  info.standalone):
            score -= ROLE_PENALTY
        if other_road_users(chunk, users):
            score -= ROAD_USER_PENALTY
        if unasked_article_kind(snapshot, chunk, info.standalone):
            score -= ARTICLE_KIND_PENALTY
        if chunk.doc_id in stale:
            score -= STALE_PENALTY
        if any(not holds(need, text) for need in wanted):
            score -= NEED_PENALTY  # "mấy tuổi" is answered by a provision that states an age
        return score + RANGE_WEIGHT * range_fit(quantities, chunk.text)

    scored = sorted(((h.score / top + content(h.chunk), h) for h in legal), key=lambda s: -s[0])
    best = [scored[0][1]]
    if kinds & PENALTY_KINDS and _is_penalty_clause(snapshot, best[0].chunk):
        best[0] = _best_in_article(best[0], content, snapshot, set(asked))
    first = best[0].chunk
    # fines: one act, one clause; definitions: the article's other defining clause is chosen below
    same_article_ok = not kinds & (PENALTY_KINDS | {"definition"})
    for s, h in scored[1:]:
        if s >= SECOND_BLOCK * scored[0][0] and (
                (h.chunk.doc_id, h.chunk.article) != (first.doc_id, first.article)
                or (same_article_ok and _other_clause(h.chunk, first))):
            best.append(h)
            break
    else:  # "Dừng xe và đỗ xe khác nhau thế nào?": the article's other clause defining an asked term
        for _, h in scored[1:]:
            if (kinds & {"definition"} and h.chunk.id != first.id and h.chunk.doc_id == first.doc_id
                    and defines_asked_term(first.text, info.standalone)
                    and defines_asked_term(h.chunk.text, info.standalone)):
                best.append(h)
                break
    if len(best) == 1 and not kinds & PENALTY_KINDS:
        referred = referred_clause(snapshot, first)
        if referred is not None:
            best.append(replace(best[0], chunk=referred))
    return best


def _other_clause(chunk: Chunk, first: Chunk) -> bool:
    """Another clause of the same article ("quốc lộ": khoản 3 for the ministry, khoản 4 for the province)."""
    a, b = chunk_ref(chunk), chunk_ref(first)
    return a.clause is not None and b.clause is not None and a.clause != b.clause


def referred_clause(snapshot: Any, chunk: Chunk) -> Chunk | None:
    """The first chunk of the one other clause of the same article that a clause points to ("trừ lý do quy định
    tại khoản 1 Điều này"): the rule it makes an exception to, or the list it applies. None when it points
    to none, or to several."""
    ref = chunk_ref(chunk)
    wanted = {m.group(1) for m in _THIS_ARTICLE_CLAUSE.finditer(chunk.text)} - {ref.clause}
    if ref.clause is None or len(wanted) != 1 or _THIS_ARTICLE_POINT.search(chunk.text):
        return None
    found = clause_chunks(snapshot, chunk.doc_id, chunk.article or "", wanted.pop())
    return found[0] if found else None


def _terms_of(snapshot: Any, chunk: Chunk) -> set[str]:
    """A chunk's folded words with its headings, cached once per snapshot."""
    cache: dict[str, set[str]] = snapshot.derived.setdefault("chunk_terms", {})
    terms = cache.get(chunk.id)
    if terms is None:
        terms = cache[chunk.id] = passage_terms([chunk.search_text()])
    return terms


def _best_in_article(hit: Hit, content: Any, snapshot: Any, wanted: set[str]) -> Hit:
    """For a fine question: the penalty point of the chosen article that matches the question best. A decree's
    article lists a hundred acts; retrieval finds the article more reliably than the one point that names the
    act, which can then be read off the article's own chunks."""
    chosen = content(hit.chunk)
    mates = [c for c in article_chunks(snapshot, hit.chunk.doc_id, hit.chunk.article or "")
             if c.id != hit.chunk.id and chunk_ref(c).point]
    mates = sorted(mates, key=lambda c: -len(wanted & _terms_of(snapshot, c)))[:IN_ARTICLE_SHORTLIST]
    scored = max(((content(c), c) for c in mates if _is_penalty_clause(snapshot, c)), key=lambda s: s[0],
                 default=None)
    if scored is None or scored[0] <= chosen + IN_ARTICLE_MARGIN:
        return hit
    return Hit(chunk=scored[1], score=hit.score, title=hit.title, number=hit.number)


def _best_lines(lines: list[Line], terms: Sequence[str], idf: dict[str, float], unseen: float,
                keep_first: int, limit: int, quantities: Sequence[Quantity] = ()) -> list[Line]:
    """The first keep_first lines (headings, lead-ins) and then the best-matching others, in reading order."""
    if len(lines) <= limit:
        return lines
    head, rest = lines[:keep_first], lines[keep_first:]
    ranked = sorted(rest, key=lambda ln: -_line_score(ln, terms, idf, unseen, quantities))[
        : max(limit - keep_first, 1)]
    return head + sorted(ranked, key=lambda ln: ln.chunk.start + ln.start)


def unit_block(snapshot: Any, chunk: Chunk, terms: Sequence[str], kinds: frozenset[str],
               limit: int = MAX_LINES, quantities: Sequence[Quantity] = ()) -> list[Line]:
    """The lines that quote the provision a chunk belongs to, whole where it is short."""
    idf, unseen = snapshot.idf, snapshot.idf_unseen
    ref = chunk_ref(chunk)
    heading = article_title(snapshot, chunk)
    head = [heading] if heading and heading.chunk.id != chunk.id else []
    if ref.point:
        lead = clause_lead(snapshot, chunk)
        siblings = clause_chunks(snapshot, chunk.doc_id, ref.article or "", ref.clause or "")
        if "list" in kinds:
            points = [ln for ln in unit_lines(siblings) if not (lead and ln == lead)]
        else:
            points = [ln for ln in chunk_lines(chunk) if not (lead and ln == lead)]
        lines = head + ([lead] if lead else []) + points
        return _best_lines(lines, terms, idf, unseen, len(head) + (1 if lead else 0), limit, quantities)
    if ref.clause:
        lines = head + unit_lines(clause_chunks(snapshot, chunk.doc_id, ref.article or "", ref.clause))
        return _best_lines(lines, terms, idf, unseen, len(head) + 1, limit, quantities)
    lines = unit_lines(article_chunks(snapshot, chunk.doc_id, ref.article or "")) if ref.article else chunk_lines(chunk)
    return _best_lines(lines, terms, idf, unseen, 1, limit, quantities)


def _extras(snapshot: Any, chunk: Chunk, point: str | None = None) -> list[Line]:
    """Lines of the same article that refer back to this act, outside other fine clauses."""
    return [ln for ln in points_referring(snapshot, chunk, point) if not _is_penalty_clause(snapshot, ln.chunk)]


_POINT_LINE = re.compile(r"^([a-zđ])\)\s")


def best_point(block: Sequence[Line], terms: Sequence[str], snapshot: Any,
               quantities: Sequence[Quantity] = ()) -> str | None:
    """The letter of the quoted point that best matches the question (a whole clause was quoted)."""
    scored = [(_line_score(ln, terms, snapshot.idf, snapshot.idf_unseen, quantities), m.group(1))
              for ln in block if (m := _POINT_LINE.match(ln.text))]
    return max(scored)[1] if scored and max(scored)[0] > 0 else None

"""Provision-level extractive answers over legal texts (no LLM).

The answer leads with the legal reference in words ("Theo điểm h khoản 2 Điều 7 Nghị định 168/2024/NĐ-CP:")
and quotes whole provisions, line by line, each line cited: a point with its article heading and its clause's
lead-in (which often carries the fine), a list with all its items, an exact reference with exactly that unit.
A fine also gets the lines of the same article that refer back to the act (additional penalties, licence
points). Every quoted line is verbatim text of a stored chunk, so the verifier checks it like any sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from rag.answer.abstain import covered, pairs_covered, question_pairs, question_terms
from rag.answer.evidence import content_terms, passage_terms
from rag.answer.provision import (
    Line,
    Ref,
    article_chunks,
    article_title,
    chunk_lines,
    chunk_ref,
    clause_chunks,
    clause_lead,
    doc_words,
    is_legal,
    points_referring,
    unit_lines,
)
from rag.answer.verify import LIST_PREFIX, Source, split_claims
from rag.query import QueryInfo
from rag.records import Chunk, Hit
from rag.text.normalize import fold_accents
from rag.validity_status import DocStatus, FactRef, fact_line

MAX_LINES = 16  # quoted lines of one provision block
CANDIDATES = 8  # retrieved chunks considered for the provision to quote
COVERAGE_WEIGHT = 0.6  # how much the question's terms found in a chunk (with its headings) count beside rank
PAIRS_WEIGHT = 0.3  # and its word pairs ("xe máy" is not "xe đạp máy")
SECOND_BLOCK = 0.92  # a second provision is quoted when it scores this close to the first
SECOND_LINES = 6  # and quoted more briefly
DEFINITION_BONUS = 0.5  # "X là gì?" and the clause "N. X là …" of the definitions article
ROLE_PENALTY = 0.3  # a provision about a passenger, pedestrian or owner for a question about none of them
ROLES = Path(__file__).parents[1] / "data" / "roles.yaml"
_DEFINES = re.compile(r"^\d{1,3}\s?\.\s+(.{2,90}?)\s+(?:là|được hiểu là|bao gồm)\s")
_PENALTY_LEAD = re.compile(r"^\d+\s?\.\s+Phạt (?:tiền|cảnh cáo)")

StatusOf = Callable[[str], DocStatus]

NOTE = {
    "extra": {"vi": "Cùng điều này quy định thêm đối với hành vi trên:",
              "en": "The same article adds, for this act:"},
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


def _line_score(line: Line, terms: Sequence[str], idf: dict[str, float], unseen: float) -> float:
    present = passage_terms([line.text])
    return sum(idf.get("~" + t, unseen) for t in terms if t in present)


def _is_penalty_clause(snapshot: Any, chunk: Chunk) -> bool:
    lead = clause_lead(snapshot, chunk)
    first = lead.text if lead else (chunk_lines(chunk)[0].text if chunk.text.strip() else "")
    return bool(_PENALTY_LEAD.match(first))


def defines_asked_term(text: str, question: str) -> bool:
    """The chunk opens with the definition of a term the question names ("6. Làn đường là …")."""
    m = _DEFINES.match(text)
    return m is not None and fold_accents(m.group(1)) in fold_accents(question)


@dataclass(frozen=True)
class Role:
    """Whose act a provision is about: the phrases a provision and a question name it by (accent-folded)."""

    provision: tuple[str, ...]
    question: tuple[str, ...]
    required: bool = False  # a question naming it wants a provision naming it


@lru_cache(maxsize=2)
def load_roles(path: Path = ROLES) -> tuple[Role, ...]:
    """The roles of rag/data/roles.yaml."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return tuple(Role(provision=tuple(fold_accents(p) for p in r["provision"]),
                          question=tuple(fold_accents(p) for p in r["question"]),
                          required=bool(r.get("required", False))) for r in raw.values())
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: each role needs 'provision' and 'question' phrase lists") from exc


def names_other_role(snapshot: Any, chunk: Chunk, question: str) -> bool:
    """The provision's lead-in names whose act it is, and the question is about someone else."""
    lead = clause_lead(snapshot, chunk)
    lines = [ln.text for ln in chunk_lines(chunk) if not ln.text.startswith("Điều ")]  # not the article title
    first = fold_accents((lead.text if lead else lines[0] if lines else "")[:300])
    asked = fold_accents(question)
    return any(any(p in first for p in role.provision) and not any(q in asked for q in role.question)
               for role in load_roles())


def misses_asked_role(snapshot: Any, chunk: Chunk, question: str) -> bool:
    """The question names a required role (a pedestrian) that the provision, its clause's lead-in and its
    article's title never name."""
    asked = fold_accents(question)
    wanted = [role for role in load_roles() if role.required and any(q in asked for q in role.question)]
    if not wanted:
        return False
    lead, title = clause_lead(snapshot, chunk), article_title(snapshot, chunk)
    where = fold_accents(" ".join([chunk.text, lead.text if lead else "", title.text if title else ""]))
    return any(not any(p in where for p in role.provision) for role in wanted)


FACTS = Path(__file__).parents[1] / "data" / "facts.yaml"


@lru_cache(maxsize=2)
def load_facts(path: Path = FACTS) -> dict[str, tuple[tuple[str, ...], re.Pattern[str]]]:
    """Fact kind → (accent-folded phrases that ask for it, the pattern of its span)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return {k: (tuple(fold_accents(a) for a in v["asked"]), re.compile(v["span"])) for k, v in raw.items()}
    except (AttributeError, KeyError, TypeError, re.error) as exc:
        raise ValueError(f"{path}: each fact needs 'asked' phrases and a 'span' pattern ({exc})") from exc


def _fact_kinds(info: QueryInfo, kinds: frozenset[str]) -> list[str]:
    asked = fold_accents(info.standalone)
    facts = load_facts()
    wanted: list[str] = [k for k in ("fine", "points") if k in kinds]
    wanted += [k for k, (phrases, _) in facts.items() if any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", asked)
                                                             for p in phrases)]
    if "effective" in kinds:
        wanted.append("date")
    return list(dict.fromkeys(wanted))


def fact_span(info: QueryInfo, kinds: frozenset[str], block: Sequence[Line], extras: Sequence[Line]) -> Line | None:
    """The verbatim span stating the fact a short question asks for (an amount, points, an age, a date)."""
    facts = load_facts()
    for kind in _fact_kinds(info, kinds):
        for line in (extras if kind == "points" else block):
            m = facts[kind][1].search(line.text)
            if m and m.end() > m.start():
                span = line.text[m.start():m.end()].strip(" ,;:")
                start = line.start + line.text.index(span, m.start())
                return Line(line.chunk, start, start + len(span))
    return None


def pick_provisions(info: QueryInfo, hits: Sequence[Hit], snapshot: Any, kinds: frozenset[str]) -> list[Hit]:
    """The best one or two legal chunks among the top hits: rank plus how much of the question they cover."""
    legal = [h for h in hits[:CANDIDATES] if h.chunk.article and is_legal(snapshot.docs[h.chunk.doc_id].meta)]
    if not legal:
        return []
    asked, pairs = question_terms(info), question_pairs(info)
    top = max(h.score for h in legal) or 1.0
    scored: list[tuple[float, Hit]] = []
    for h in legal:
        text = h.chunk.search_text()
        cov = covered(asked, [text], info, snapshot)
        score = h.score / top + COVERAGE_WEIGHT * cov + PAIRS_WEIGHT * pairs_covered(pairs, [text], info)
        if kinds & {"fine", "points", "additional"} and _is_penalty_clause(snapshot, h.chunk):
            score += 0.15
        if chunk_ref(h.chunk) == Ref(h.chunk.article) and len(chunk_lines(h.chunk)) == 1:
            score -= 0.2  # an article heading alone quotes nothing
        if "definition" in kinds and defines_asked_term(h.chunk.text, info.standalone):
            score += DEFINITION_BONUS
        if names_other_role(snapshot, h.chunk, info.standalone) or misses_asked_role(snapshot, h.chunk,
                                                                                    info.standalone):
            score -= ROLE_PENALTY
        scored.append((score, h))
    scored.sort(key=lambda s: -s[0])
    best = [scored[0][1]]
    for s, h in scored[1:]:
        if s >= SECOND_BLOCK * scored[0][0] and (h.chunk.doc_id, h.chunk.article) != (best[0].chunk.doc_id,
                                                                                        best[0].chunk.article):
            best.append(h)
            break
    return best


def _best_lines(lines: list[Line], terms: Sequence[str], idf: dict[str, float], unseen: float,
                keep_first: int, limit: int) -> list[Line]:
    """The first keep_first lines (headings, lead-ins) and then the best-matching others, in reading order."""
    if len(lines) <= limit:
        return lines
    head, rest = lines[:keep_first], lines[keep_first:]
    ranked = sorted(rest, key=lambda ln: -_line_score(ln, terms, idf, unseen))[: max(limit - keep_first, 1)]
    return head + sorted(ranked, key=lambda ln: ln.chunk.start + ln.start)


def unit_block(snapshot: Any, chunk: Chunk, terms: Sequence[str], kinds: frozenset[str],
               limit: int = MAX_LINES) -> list[Line]:
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
        return _best_lines(lines, terms, idf, unseen, len(head) + (1 if lead else 0), limit)
    if ref.clause:
        lines = head + unit_lines(clause_chunks(snapshot, chunk.doc_id, ref.article or "", ref.clause))
        return _best_lines(lines, terms, idf, unseen, len(head) + 1, limit)
    lines = unit_lines(article_chunks(snapshot, chunk.doc_id, ref.article or "")) if ref.article else chunk_lines(chunk)
    return _best_lines(lines, terms, idf, unseen, 1, limit)


def _extras(snapshot: Any, chunk: Chunk, point: str | None = None) -> list[Line]:
    """Lines of the same article that refer back to this act, outside other fine clauses."""
    return [ln for ln in points_referring(snapshot, chunk, point) if not _is_penalty_clause(snapshot, ln.chunk)]


_POINT_LINE = re.compile(r"^([a-zđ])\)\s")


def best_point(block: Sequence[Line], terms: Sequence[str], snapshot: Any) -> str | None:
    """The letter of the quoted point that best matches the question (a whole clause was quoted)."""
    scored = [(_line_score(ln, terms, snapshot.idf, snapshot.idf_unseen), m.group(1))
              for ln in block if (m := _POINT_LINE.match(ln.text))]
    return max(scored)[1] if scored and max(scored)[0] > 0 else None


def _status_note(d: _Draft, status: DocStatus) -> None:
    if status.state == "ended" and status.ended_by is not None:
        line = fact_line(d.snapshot, status.ended_by)
        if line is not None:
            d.frame(NOTE["ended"][d.language])
            d.quote(line)


def compose_legal(info: QueryInfo, hits: Sequence[Hit], snapshot: Any, *, kinds: frozenset[str],
                  status_of: StatusOf) -> LegalDraft | None:
    """A provision-level answer when the best evidence is a legal text, else None (the caller falls back)."""
    terms = _terms(info)
    chosen = pick_provisions(info, hits, snapshot, kinds)
    if not chosen:
        return None
    d = _Draft(snapshot, info.language)
    for i, h in enumerate(chosen):
        meta = snapshot.docs[h.chunk.doc_id].meta
        d.frame(reference_lead(chunk_ref(h.chunk), meta, info.language))
        block = unit_block(snapshot, h.chunk, terms, kinds, MAX_LINES if i == 0 else SECOND_LINES)
        extras: list[Line] = []
        if _is_penalty_clause(snapshot, h.chunk):
            point = chunk_ref(h.chunk).point or best_point(block, terms, snapshot)
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

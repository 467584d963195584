"""Validity (hiệu lực) of a Vietnamese legal document and its relations to other documents, read from its text.

Read: the title block and enacting lines (not "Căn cứ …"), articles titled with hiệu lực, thi hành, sửa đổi, bổ sung,
bãi bỏ, thay thế, chuyển tiếp or opening "<Loại văn bản> này …", and (guides only) "Phạm vi điều chỉnh". A statement
must open with its subject, so "giấy phép lái xe có hiệu lực …" is no fact; quoted (amended) wording is skipped.
Offsets refer to normalize_text(text), i.e. to the text itself for ingested documents."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal, NamedTuple

from rag.records import ValidityFact
from rag.text.docnumber import DocReference, find_doc_references
from rag.text.normalize import fold_accents, normalize_text

FactKind = Literal["effective", "effective_part", "ends", "replaces", "amends", "guides", "ends_other"]


@dataclass(frozen=True)
class Validity:
    """The document's own validity period and every fact found, in text order."""

    effective_from: str | None
    effective_to: str | None
    facts: tuple[ValidityFact, ...]


class _Stmt(NamedTuple):
    start: int
    end: int
    article: str | None
    clause: str | None
    scope: str  # head (title block) | all (validity article) | guide (Phạm vi điều chỉnh)
    item: bool  # an "a)" or "-" line, which may continue a list opened by "… sau đây:"


_Spec = tuple[str, str | None, int] | None  # (base, iso, days); base: date | issued | own | loc (by location)

_TYPES = r"bo luat|luat|hien phap|phap lenh|nghi quyet|nghi dinh|thong tu lien tich|thong tu|quyet dinh|chi thi|lenh"
_SELF = rf"(?:{_TYPES}|van ban|quy che|quy dinh|dieu le) nay\b"
_DOCTYPE = rf"\b(?:{_TYPES}|van ban|cong van)\b"
_DOC_WORD = re.compile(_DOCTYPE)
_PROV = r"(?:diem|khoan|dieu|chuong|muc|phan|phu luc)"
_TOK = rf"(?:{_PROV}|cac|va|nay|\d+(?:\.\d+)*[a-z]?|[ivxlc]+|[a-z])"
_PROV_LIST = rf"{_PROV}\s+(?:{_TOK}(?:\s*[,;]\s*|\s+))*?{_TOK}"
_HAS = r"(?:se\s+)?(?:bat dau\s+|chinh thuc\s+)?co hieu luc(?:\s+thi hanh)?"
_DATE = re.compile(r"(?:ngay\s+)?(?:(\d{1,2})\s+thang\s+(\d{1,2})\s+nam\s+(\d{4})|(\d{1,2})([/.-])(\d{1,2})\5(\d{4}))")
_EVENT = re.compile(rf"\s*,?\s*(?:sau\s+(\d{{1,3}})\s+ngay\s*,?\s*)?(?:ke\s+)?tu\s+ngay\s+"
                    rf"(ky|ban hanh|thong qua|{_SELF}\s+{_HAS})")
_FROM = re.compile(r"\s*,?\s*(?:(?:ke\s+)?tu\s+)?(?=(?:ngay\s+)?\d)")
_UNTIL = re.compile(r"\s*,?\s*(?:va\s+)?(?:cho\s+)?den\s+(?:het\s+)?(?=(?:ngay\s+)?\d)")
_SELF_START = re.compile(rf"{_SELF}\s+")
_SELF_VERB = re.compile(rf"{_SELF}(?:\s+\([^)]*\))?\s+{_HAS.replace('co hieu', '(co|het) hieu')}")
_PART = re.compile(rf"(?:(?:cac\s+)?quy dinh\s+(?:tai|cua)\s+)?(?P<prov>{_PROV_LIST})\s+(?:cua\s+{_SELF}\s+)?{_HAS}")
_OTHER_END = re.compile(r"\s(?:se\s+)?(?:het hieu luc(?:\s+thi hanh)?|(?:bi|duoc)\s+bai bo)\b")
_SUBJECT = re.compile(rf"(?:{_PROV_LIST}\s+(?:(?:cua|tai)\s+)?)?(?:cac\s+)?{_DOCTYPE}")
_RELATIONS: tuple[tuple[FactKind, re.Pattern[str]], ...] = (
    ("replaces", re.compile(rf"{_SELF}\s+(?:[^;]*?\s)?thay the\s+")),
    ("ends_other", re.compile(rf"(?:{_SELF}\s+(?:[^;]*?\s)?)?bai bo\s+")),
    ("amends", re.compile(r"(?<!duoc )(?:sua doi,?\s*bo sung|sua doi|bo sung)\s+")),
)
_GUIDE = re.compile(r"(?:quy dinh chi tiet|huong dan)\b")
_CHAIN = re.compile(r"\b(?:da\s+)?duoc\s+sua doi|\bsua doi,?\s*bo sung\s+(?:mot so dieu\s+)?theo\b")
_SPAN_END = re.compile(r"\s*(?:,\s*tru\s|,?\s*(?:ke tu|tu ngay|sau\s+\d+\s+ngay)\s)")  # ", trừ …", "kể từ …"
_HEADING = re.compile(r"dieu\s+(\d+)([a-z]?)\s*[.:]\s*")
_DIVISION = re.compile(r"(?:chuong|phan|muc)\s+(?:[ivxlc]+|\d+|thu\s+\w+)\s*(?:[.:].*)?$")
_CLOSING = re.compile(rf"noi nhan\b|(?:tm|kt|tl|tuq|q)\.\s|(?:{_TYPES}) nay (?:da )?duoc .{{0,200}}thong qua")
_MARKER = re.compile(r"(?:(\d{1,3})\s?[.)]|[a-z]\)|[-+*\u2022\u2013])\s+")
_QUOTE_START = re.compile(r"[-+*\u2022\u2013\s]*[`\u201c\u201d\u2018\"']")
_HEAD_SKIP = re.compile(r"can cu\b|theo de nghi|xet de nghi|[^\n,]{2,60},\s*ngay\s")
_ISSUED = re.compile(r"(?m)^[^\n,]{2,60},\s*(?=ngay\s+\d)")
_SCOPE = re.compile(r"hieu luc|thi hanh|sua doi|bo sung|bai bo|thay the|chuyen tiep|to chuc thuc hien")
_LEVELS = {"diem": (0, "điểm"), "khoan": (1, "khoản"), "dieu": (2, "Điều"), "phu luc": (2, "Phụ lục"),
           "muc": (3, "Mục"), "chuong": (4, "Chương"), "phan": (5, "Phần")}
_DATE_PHRASE = re.compile(r"(?:,\s*)?ngày\s+\d{1,2}(?:\s+tháng\s+\d{1,2}\s+năm\s+|[/.-]\d{1,2}[/.-])\d{4}", re.I)
_TAIL = re.compile(r"(?:\s*(?:[,;:.]|\bvà\b|\bcác\b|\bnhư sau\b))+\s*$", re.IGNORECASE)


def _fold(text: str) -> str:
    """Accent-folded lower-case text of exactly the same length, so offsets stay valid."""
    table = {ord(c): f if len(f := "d" if c in "Ðð" else fold_accents(c)) == 1 else c for c in set(text)}
    return text.translate(table)


def _date(f: str, pos: int) -> tuple[str, int] | None:
    """ISO date written at f[pos:] ("ngay 1 thang 1 nam 2025", "01/01/2025", "1-1-2025") and where it ends."""
    m = _DATE.match(f, pos)
    ymd = () if m is None else (m[3], m[2], m[1]) if m[1] else (m[7], m[6], m[4])
    try:
        return date(*map(int, ymd)).isoformat(), m.end() if m else pos
    except (TypeError, ValueError):  # no date, or 31/02
        return None


def _when(f: str, pos: int) -> tuple[_Spec, int]:
    """When something takes effect or ends, read right after its verb: a date, ngày ký (+ N ngày), own date."""
    if m := _EVENT.match(f, pos):  # "kể từ ngày công bố" stays unknown
        return ("issued" if m[2] in ("ky", "ban hanh", "thong qua") else "own", None, int(m[1] or 0)), m.end()
    if (m := _FROM.match(f, pos)) and (d := _date(f, m.end())):
        return ("date", d[0], 0), d[1]
    return None, pos


def _provisions(s: str, f: str) -> list[str]:
    """Split "Điểm a và điểm b khoản 2 Điều 42, Điều 43" into full provisions, parents taken from the right."""
    items: list[dict[int, str]] = []
    prev_head: str | None = None
    bounds = [0, *(x for m in re.finditer(r"\s*(?:[,;]|\bva\b)\s*", f) for x in (m.start(), m.end())), len(f)]
    for i, j in zip(bounds[::2], bounds[1::2], strict=True):
        pairs: dict[int, str] = {}
        kw = first = None
        for m in re.finditer(r"phu luc|\S+", f[i:j]):
            if m[0] in _LEVELS:
                kw = m[0]
            elif m[0] != "cac" and (key := kw or prev_head):  # a bare "2" in "các khoản 1, 2" is a khoản
                first, kw = first or key, None
                level, label = _LEVELS[key]
                pairs[level] = f"{label} {s[i + m.start() : i + m.end()]}"
        if pairs:
            items.append(pairs)
            prev_head = first
    carry: dict[int, str] = {}
    for pairs in reversed(items):
        pairs.update({lvl: v for lvl, v in carry.items() if lvl > max(pairs)})
        carry = dict(pairs)
    return [" ".join(p[lvl] for lvl in sorted(p)) for p in items]


def _title(seg: str, refs: list[DocReference], offset: int) -> str | None:
    """The other document as named: its số hiệu removed, and its date too when it has a number."""
    pieces, last = [], 0
    for r in refs:
        pieces.append(re.sub(r"\s*số\s*:?\s*$", "", seg[last : r.start - offset], flags=re.IGNORECASE))
        last = r.end - offset
    title = " ".join(" ".join([*pieces, seg[last:]]).split())
    title = _TAIL.sub("", " ".join(_DATE_PHRASE.sub(" ", title).split()) if refs else title).strip()
    if not title or re.fullmatch(_DOCTYPE, _fold(title)):
        return None
    return title[0] + title[1:].lower() if title.isupper() else title


def _targets(text: str, folded: str, a: int, b: int, partial: bool = False) -> list[tuple[str | None, str | None]]:
    """(số hiệu, title) of each document named in text[a:b] (split at ", Luật …", "và Nghị định …"), not the
    amending ones after "đã được sửa đổi"; with partial a leading provision stays: "Điều 5 của Thông tư"."""
    b = c.start() if (c := _CHAIN.search(folded, a, b)) else b
    s, f = text[a:b], folded[a:b]
    words = [m.start() for m in _DOC_WORD.finditer(f) if s[m.start()].isupper()]
    refs = find_doc_references(s)
    if not (starts := [*words[:1], *(r.start for r in refs[:1])]):
        return []
    first = 0 if partial and re.fullmatch(rf"{_PROV_LIST}\s+(?:(?:cua|tai)\s+)?", f[: min(starts)]) else min(starts)
    cuts = [first, *(p for p in words if p > first and re.search(r"(?:[,;]|\bva)\s*$", f[:p]))]
    out: list[tuple[str | None, str | None]] = []
    for p, q in zip(cuts, [*cuts[1:], len(s)], strict=True):
        if not re.match(_SELF, f[p:q]):
            seg_refs = [r for r in refs if p <= r.start < q]
            title = _title(s[p:q], seg_refs, p)
            out.extend([(r.number, title) for r in seg_refs] if seg_refs else [(None, title)] if title else [])
    return out


def _split(text: str, folded: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of one line: at ". " before a capital, and at "; " unless a list of documents goes on."""
    parts, s = [], start
    for m in re.finditer(r"[.;]\s+", text[start:end]):
        at, nxt = start + m.start(), start + m.end()
        cap = text[nxt : nxt + 1].isupper()
        if cap if text[at] == "." else not (cap and _DOC_WORD.match(folded, nxt)):
            parts.append((s, at + (text[at] == ".")))
            s = start + m.end()
    return [*parts, (s, end)]


def _statements(text: str, folded: str) -> list[_Stmt]:
    """Statements in scope: runs of lines before the first article, then sentences of validity articles."""
    out: list[_Stmt] = []
    scope: str | None = "head"
    article = clause = None
    last_art = last_khoan = depth = pos = in_run = 0
    for line in text.split("\n"):
        start, end, pos = pos, pos + len(line), pos + len(line) + 1
        f = folded[start:end]
        quoted = depth > 0 or bool(_QUOTE_START.match(f))
        depth = max(0, depth + line.count("\u201c") - line.count("\u201d"))
        head = _HEADING.match(f)
        # A heading inside an open quotation is amended wording, unless it is the next article (stray quote).
        if head and (not quoted or (int(head[1]) == last_art + 1 and not _QUOTE_START.match(f))):
            depth = max(0, line.count("\u201c") - line.count("\u201d"))
            last_art, article, clause, last_khoan = int(head[1]), head[1] + head[2], None, 0
            title = f[head.end() :]
            scope = "all" if _SCOPE.search(title) or re.match(_SELF, title) else "guide" if "pham vi" in title else None
            if scope and title:
                out.append(_Stmt(start + head.end(), end, article, None, scope, False))
        elif not f or quoted:
            continue
        elif _CLOSING.match(f):
            break  # signatures, then annexes whose sample forms say "Quyết định này có hiệu lực …"
        elif _DIVISION.match(f):
            scope = None
        elif scope == "head":
            if not (skip := _HEAD_SKIP.match(f)):  # lines up to a "Căn cứ" or "<nơi>, ngày" line are one run
                run_start = out.pop().start if in_run else start
                out.append(_Stmt(run_start, end, None, None, "head", False))
            in_run = not skip
        elif scope:
            mark = _MARKER.match(f)
            if mark and mark[1] and int(mark[1]) > last_khoan:  # khoản numbers only go up
                clause, last_khoan = mark[1], int(mark[1])
            item, body = bool(mark and not mark[1]), start + (mark.end() if mark else 0)
            out.extend(_Stmt(a, b, article, clause, scope, item) for a, b in _split(text, folded, body, end))
    return out


def parse_validity(text: str, *, issued_date: str | None = None) -> Validity:
    """Effective dates, own end and relations to other documents stated in a legal document's text.

    issued_date (ISO) resolves "kể từ ngày ký"; when absent, the "<nơi>, ngày …" header line is used.
    """
    text = normalize_text(text)
    folded = _fold(text)
    found: list[tuple[ValidityFact, _Spec]] = []
    pending: tuple[FactKind, _Spec, _Stmt] | None = None  # a "… sau đây:" list whose items name the documents

    def add(kind: FactKind, spec: _Spec, st: _Stmt, target: str | None = None, title: str | None = None) -> None:
        found.append((ValidityFact(kind, None, target, title, st.article, st.clause, st.start, st.end), spec))

    def relate(kind: FactKind, st: _Stmt, a: int, b: int, spec: _Spec) -> None:
        nonlocal pending
        targets = _targets(text, folded, a, b, partial=kind == "ends_other")
        for target, title in targets:
            add(kind, spec, st, target, title)
        if not targets and text[st.start : st.end].rstrip().endswith(":"):
            pending = (kind, spec, st)

    for st in _statements(text, folded):
        f, a, head = folded[st.start : st.end], st.start, st.scope == "head"
        opened, pending, count = pending, None, len(found)
        own: _Spec = ("own", None, 0) if head else ("loc", None, 0)
        if st.scope == "all":
            if m := _SELF_VERB.match(f):  # "Luật này có hiệu lực từ … [đến hết ngày …]", "… hết hiệu lực …"
                spec, e = _when(f, m.end())
                add("effective" if m[1] == "co" else "ends", spec, st)
                if m[1] == "co" and (u := _UNTIL.match(f, e)) and (d := _date(f, u.end())):
                    add("ends", ("date", d[0], 0), st)
            elif m := _PART.match(f):
                for prov in _provisions(text[a + m.start("prov") : a + m.end("prov")], m["prov"]):
                    add("effective_part", _when(f, m.end())[0], st, prov)
            elif (m := _OTHER_END.search(f)) and not _SELF_START.match(f) and _SUBJECT.match(f, 0, m.start()):
                relate("ends_other", st, a, a + m.start(), _when(f, m.end())[0] or own)
        for kind, rx in _RELATIONS if st.scope != "guide" else ():
            if m := rx.search(f) if head else rx.match(f):
                e = cut.start() if (cut := _SPAN_END.search(f, m.end())) else len(f)
                relate(kind, st, a + m.end(), a + e, _when(f, e)[0] or own)
        if head or ((lead := _SELF_START.match(f)) and _GUIDE.match(f, lead.end())):
            guides = list(_GUIDE.finditer(f))
            for g, stop in zip(guides, [x.start() for x in guides[1:]] + [len(f)] * bool(guides), strict=True):
                relate("guides", st, a + g.end(), a + stop, None)
        if opened and st.item and (opened[2].article, opened[2].clause) == (st.article, st.clause):
            for target, title in _targets(text, folded, st.start, st.end) if len(found) == count else ():
                add(opened[0], opened[1], st, target, title)  # an item of the list that says nothing itself
            pending = pending or opened
    # Resolve date specs (ngày ký, own effective date, the date of the provision holding a statement); dedupe.
    m = _ISSUED.search(folded, 0, 3000)
    issued = issued_date or (_date(folded, m.end()) or (None,))[0] if m else issued_date

    def resolve(spec: _Spec, eff: str | None, loc: str | None = None) -> str | None:
        d = {"date": spec[1], "issued": issued, "own": eff, "loc": loc}[spec[0]] if spec else None
        return (date.fromisoformat(d) + timedelta(days=spec[2])).isoformat() if spec and d else None

    eff = next((x for f, s in found if f.kind == "effective" and (x := resolve(s, None))), None)
    parts = {f.target: resolve(s, eff) for f, s in found if f.kind == "effective_part"}
    numbered = {(f.kind, _fold(f.target_title or "")) for f, _ in found if f.target}
    facts: list[ValidityFact] = []
    seen: set[tuple[str, str | None, str | None]] = set()
    for fact, spec in sorted(found, key=lambda x: x[0].start):
        if fact.target is None and (fact.kind, _fold(fact.target_title or "")) in numbered:
            continue  # the title block names it, an article gives its number
        loc = parts.get(f"khoản {fact.clause} Điều {fact.article}") or parts.get(f"Điều {fact.article}") or eff
        fact = replace(fact, date=resolve(spec, eff, loc))
        if (key := (fact.kind, fact.target or _fold(fact.target_title or ""), fact.date)) not in seen:
            seen.add(key)
            facts.append(fact)
    return Validity(eff, next((f.date for f in facts if f.kind == "ends" and f.date), None), tuple(facts))

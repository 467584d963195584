"""Claim-level verification: every sentence must be supported by the passage it cites.

A sentence survives when it carries at least one in-range [n] marker whose passage contains the
sentence's quote (exactly, or for generated text a passage sentence that covers most of its words) and
every number, date and document number the sentence mentions. Survivors get citations with the exact
quoted span and its offsets in the stored document text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.evidence import STOPWORDS
from rag.answer.locate import locate
from rag.records import Chunk, Citation, DocumentMeta
from rag.text.docnumber import find_doc_references
from rag.text.normalize import fold_accents

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)")
# Layout a line may open with: a bullet, list numbering, a point letter, or a quoted article heading's label.
LIST_PREFIX = re.compile(r"^\s*(?:[-•*+]|\d+[.)]|[a-zđ]\)|Điều\s+\d+[a-z]?\.)\s+")
_NUMBER = re.compile(r"\d+(?:[/.,:-]\d+)*")
_WORD = re.compile(r"\w+", re.UNICODE)
MIN_FUZZY_COVERAGE = 0.6  # share of a paraphrase's content words found in one passage sentence
MIN_PAIR_COVERAGE = 0.4  # share of its adjacent word pairs found there


@dataclass(frozen=True)
class Source:
    """A numbered passage given to the composer (or the LLM)."""

    n: int
    chunk: Chunk
    meta: DocumentMeta


@dataclass(frozen=True)
class Verified:
    text: str
    citations: tuple[Citation, ...]
    removed: int  # sentences dropped as unsupported
    kept: int  # sentences that carry a verified citation


_CLAUSE_LABEL = re.compile(r"^(\d{1,3})\s?\.\s", re.MULTILINE)  # clause numbers a passage's lines open with
_LINE_LEAD = re.compile(r"^(?:\[\^\d+\]:\s*|[-•*+]\s+)")


def split_sentences(text: str, *, lines_only: bool = False) -> list[tuple[int, int]]:
    """(start, end) spans of sentences in a passage: lines, then sentence punctuation within a line.

    A bullet sign or a footnote label ("[^1]: ") opening a line is layout, not part of the sentence.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for raw_line in text.split("\n"):
        line_start = pos
        pos += len(raw_line) + 1
        indent = len(raw_line) - len(raw_line.lstrip())
        lead = _LINE_LEAD.match(raw_line[indent:])
        skip = indent + (lead.end() if lead else 0)
        line = raw_line[skip:]
        cursor = 0
        for m in [*([] if lines_only else _SENTENCE_END.finditer(line)), None]:
            end = m.start() if m else len(line)
            seg = line[cursor:end]
            pad = len(seg) - len(seg.lstrip())
            seg = seg.strip()
            if seg:
                begin = line_start + skip + cursor + pad
                spans.append((begin, begin + len(seg)))
            if m:
                cursor = m.end()
    return spans


def _canon(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def numbers_in(text: str) -> set[str]:
    """Numbers, dates and document numbers a claim asserts (markers and list numbering excluded)."""
    text = MARKER.sub("", LIST_PREFIX.sub("", text))
    found = {r.number for r in find_doc_references(text)}
    stripped = text
    for r in find_doc_references(text):
        stripped = stripped.replace(r.raw, " ")
    found.update(m.group(0).rstrip(".,:") for m in _NUMBER.finditer(stripped))
    return {f for f in found if f}


def _numbers_supported(claim: str, passage: str) -> bool:
    """Every number/date/document number of the claim occurs in the passage (digit groups as tokens)."""
    refs = {r.number for r in find_doc_references(passage)}
    digits = set(re.findall(r"\d+", passage))
    for num in numbers_in(claim):
        if find_doc_references(num):
            if num not in refs and num not in passage:
                return False
        elif not all(g in digits for g in re.findall(r"\d+", num)):
            return False
    return True


def _fuzzy_support(claim_words: list[str], sentence_words: list[str]) -> tuple[float, float]:
    """Coverage of the claim's content words, and of its adjacent word pairs, by one passage sentence."""

    have = set(sentence_words)
    content = [w for w in claim_words if w not in STOPWORDS] or claim_words
    pairs = set(zip(sentence_words, sentence_words[1:], strict=False))
    claim_pairs = list(zip(claim_words, claim_words[1:], strict=False))
    word_cov = sum(w in have for w in content) / len(content)
    pair_cov = sum(p in pairs for p in claim_pairs) / len(claim_pairs) if claim_pairs else word_cov
    return word_cov, pair_cov


def find_quote(claim: str, passage: str) -> tuple[int, int] | None:
    """Span of the passage that supports the claim: exact match, else the best-covering sentence.

    A question is never supported. A paraphrase is accepted only when one passage sentence covers most
    of its content words and a good share of its word pairs, so shared common syllables are not enough.
    """
    body = _canon(MARKER.sub("", LIST_PREFIX.sub("", claim))).rstrip(" .;:")
    if not body or body.endswith("?"):
        return None
    idx = passage.find(body)
    if idx >= 0:
        return idx, idx + len(body)
    pattern = r"\s+".join(re.escape(w) for w in body.split())  # whitespace differences only
    m = re.search(pattern, passage)
    if m:
        return m.start(), m.end()
    claim_words = [fold_accents(w) for w in _WORD.findall(body)]
    if len(claim_words) < 3:
        return None
    best: tuple[tuple[float, float], tuple[int, int]] | None = None
    for start, end in split_sentences(passage):
        score = _fuzzy_support(claim_words, [fold_accents(w) for w in _WORD.findall(passage[start:end])])
        if best is None or score > best[0]:
            best = (score, (start, end))
    if best and best[0][0] >= MIN_FUZZY_COVERAGE and best[0][1] >= MIN_PAIR_COVERAGE \
            and _names_present(body, passage):
        return best[1]
    return None


def _names_present(claim: str, passage: str) -> bool:
    """Capitalised words (names, bodies, places) of a paraphrase must occur in the passage, like numbers."""
    words = _WORD.findall(claim)
    have = {fold_accents(w) for w in _WORD.findall(passage)}
    return all(fold_accents(w) in have for w in words[1:] if w[:1].isupper())


def _claims(text: str) -> list[tuple[str, str]]:
    """(line prefix, sentence) pairs in order; the prefix keeps list bullets of the original layout."""
    out: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if not line.strip():
            out.append(("\n", ""))
            continue
        m = LIST_PREFIX.match(line)
        prefix = line[:m.end()] if m else ""
        rest = line[len(prefix):]
        pieces = split_claims(rest)
        for i, piece in enumerate(pieces):
            out.append((prefix if i == 0 else "", piece.strip()))
        out.append(("\n", ""))
    return out


_ABBREV_BEFORE_DOT = re.compile(r"(?:^|[\s(])(?:[A-ZĐ]{1,4}|[A-Za-zĐđ]{1,2}|[\w/]*/[\w/]*)\.$")


def split_claims(line: str) -> list[str]:
    """Split a line into sentences, keeping each sentence's trailing [n] markers with it.

    A period after an abbreviation ("KT. GIÁM ĐỐC", "TP. Hà Nội") does not end a sentence unless
    markers follow it.
    """
    pieces, cursor = [], 0
    for m in re.finditer(r"(?<=[.!?])((?:\s*\[\d+(?:\s*,\s*\d+)*\])*)\s+(?=[A-ZÀ-Ỹ])", line):
        if not m.group(1) and _ABBREV_BEFORE_DOT.search(line[cursor:m.start()]):
            continue
        pieces.append(line[cursor:m.end(1)])
        cursor = m.end()
    pieces.append(line[cursor:])
    return [p for p in pieces if p.strip()]


def known_numbers(sources: Sequence[Source]) -> set[str]:
    """The sources' own document numbers and unit numbers (Điều, Khoản): a lead-in line may name them
    ("Theo khoản 2 Điều 7 Nghị định 168/2024/NĐ-CP:") without making a claim."""
    known = {n for s in sources if s.meta.number for n in numbers_in(s.meta.number)}
    known.update(x for s in sources for x in (s.chunk.article, s.chunk.clause) if x)
    known.update(m.group(1) for s in sources for m in _CLAUSE_LABEL.finditer(s.chunk.text))
    return known


def is_framing(sentence: str, known_numbers: set[str] = frozenset()) -> bool:  # type: ignore[assignment]
    """A lead-in line that makes no claim: ends with ':' and names no number but the sources' own."""
    s = MARKER.sub("", sentence).strip()
    limit = 32 if s.startswith("Theo ") else 20  # a legal reference with the law's title is longer
    return (bool(s) and s.endswith(":") and len(s.split()) <= limit and "?" not in s
            and numbers_in(s) <= known_numbers)


def verify(text: str, sources: Sequence[Source], doc_texts: dict[str, str]) -> Verified:
    """Keep supported sentences, renumber their markers in order, and build exact citations."""
    by_n = {s.n: s for s in sources}
    known = known_numbers(sources)
    citations: list[Citation] = []
    key_to_n: dict[tuple[str, int, int], int] = {}
    lines: list[str] = []
    current = ""
    removed = kept = 0
    for prefix, sentence in _claims(text):
        if prefix == "\n" and not sentence:
            if current.strip():
                lines.append(current.rstrip())
            current = ""
            continue
        markers = [int(x) for m in MARKER.finditer(sentence) for x in m.group(1).split(",")]
        body = MARKER.sub("", sentence).strip()
        if not markers:
            if is_framing(body, known):
                current += prefix + body + " "
            elif body:
                removed += 1
            continue
        new_markers: list[int] = []
        for n in dict.fromkeys(markers):
            src = by_n.get(n)
            if src is None:
                continue  # out of range: the model cited a source that does not exist
            span = find_quote(body, src.chunk.text)
            if span is None or not _numbers_supported(body, src.chunk.text):
                continue
            start, end = src.chunk.start + span[0], src.chunk.start + span[1]
            key = (src.chunk.doc_id, start, end)
            if key not in key_to_n:
                key_to_n[key] = len(citations) + 1
                quote = doc_texts[src.chunk.doc_id][start:end]
                where = locate(src.chunk, start, end, quote)
                citations.append(Citation(
                    n=key_to_n[key], doc_id=src.chunk.doc_id, chunk_id=src.chunk.id, title=src.meta.title,
                    number=src.meta.number, breadcrumb=src.chunk.breadcrumb, quote=quote, start=start, end=end,
                    doc_type=src.meta.doc_type, issued_date=src.meta.issued_date, issuer=src.meta.issuer,
                    page=where.page, pages=where.pages, boxes=where.boxes, ocr_confidence=where.ocr_confidence,
                    highlight_note=where.highlight_note))
            new_markers.append(key_to_n[key])
        if not new_markers:
            removed += 1
            continue
        kept += 1
        current += prefix + body + "".join(f" [{n}]" for n in new_markers) + " "
    if current.strip():
        lines.append(current.rstrip())
    return Verified(text="\n".join(lines).strip(), citations=tuple(citations), removed=removed, kept=kept)

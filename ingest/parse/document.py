"""SourceDocument → ParsedDocument: clean text, header metadata, structure, footnotes, references."""

from __future__ import annotations

import html
import re
from dataclasses import replace

from ingest.parse.header import parse_closing, parse_header
from ingest.parse.pages import map_pages
from ingest.parse.structure import (
    body_units,
    find_closing_start,
    is_legal,
    paragraph_units,
    text_lines,
    trim_end,
)
from ingest.parse.validity import parse_validity
from rag.records import DocumentMeta, Footnote, ParsedDocument, SourceDocument, Unit
from rag.text.docnumber import (
    LEGAL_TYPES,
    find_doc_references,
    normalize_doc_number,
    number_date_conflicts,
    own_number_conflict,
)
from rag.text.normalize import normalize_text

__all__ = ["find_doc_references", "normalize_doc_number", "parse_document", "prepare_text"]

_ESCAPABLE = "\\`*_{}[]()#+-.!|>~<"
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)(?:\s+#+)?$", re.MULTILINE)
_HRULE = re.compile(r"^(?:-{3,}|\*{3,}|_{3,})$", re.MULTILINE)
_SUP_START = re.compile(r"^<sup>\s*(\w{1,4})\s*</sup>\s*", re.MULTILINE)
_SUP = re.compile(r"<sup>\s*(\w{1,4})\s*</sup>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]{0,10}(?:\s[^<>\n]{0,200})?/?>")
_IMAGE = re.compile(r"!\[([^\[\]\n]*)\]\([^()\s]*(?:\s+\"[^\"\n]*\")?\)")
_LINK = re.compile(r"\[([^\[\]\n^][^\[\]\n]*)\]\([^()\s]*(?:\s+\"[^\"\n]*\")?\)")
_EMPHASIS = re.compile(r"(?<![\w*])(\*{1,3})(?=[^\s*])([^*]+?)(?<=[^\s*])\1(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")
_FN_BODY = re.compile(r"\[\^(\w{1,4})\]:[ ]?")
_FN_MARK = re.compile(r"\[\^(\w{1,4})\](?!:)")
# A paragraph break after a letter or comma: a page break, when the next paragraph starts in lower case.
_PARA_BREAK = re.compile(r"(?<=[^\W\d_]|,)\n\n(?=(\S{1,3}))")
_POINT = re.compile(r"[a-zđ]\)|v/v", re.IGNORECASE)
_FRONT_MATTER_KEYS = ("title", "doc_type", "number", "issued_date", "issuer", "parent_issuer", "place",
                      "subject", "signer", "signer_title", "audience")
_PLACEHOLDER = 0xE000  # private-use code points stand in for escaped Markdown characters
_RESTORE = {_PLACEHOLDER + ord(c): c for c in _ESCAPABLE}


def _markdown_to_text(md: str) -> str:
    """Strip Markdown/HTML markup, keeping every word; footnotes become [^n] markers and [^n]: bodies."""
    text = _ESCAPE.sub(lambda m: chr(_PLACEHOLDER + ord(m[1])), md)
    text = _HEADING.sub(r"\1", text)
    text = _HRULE.sub("", text)
    text = _SUP_START.sub(lambda m: f"[^{m[1]}]: ", text)
    text = _SUP.sub(lambda m: f"[^{m[1]}]", text)
    text = _BR.sub("\n", text)
    text = _TAG.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    for _ in range(3):  # nested emphasis (**a *b* c**) peels one layer per pass
        text, n = _EMPHASIS.subn(r"\2", text)
        if not n:
            break
    text = html.unescape(text)
    return text.translate(_RESTORE)


def _relocate_footnotes(text: str) -> str:
    """Move footnote bodies (page-break leftovers in mid-text) after everything else, in label order."""
    paras = text.split("\n\n")
    bodies = [p for p in paras if _FN_BODY.match(p)]
    if not bodies:
        return text
    rest = [p for p in paras if not _FN_BODY.match(p)]
    return "\n\n".join(rest + bodies)


def _join_broken(m: re.Match[str]) -> str:
    """Join a paragraph split mid-sentence (keep the words; only the break goes)."""
    nxt = m[1]
    return " " if nxt[0].islower() and not _POINT.match(nxt) else m[0]


def prepare_text(source: SourceDocument) -> str:
    """The normalised, markup-free text every offset of the parsed document points into."""
    text = normalize_text(source.text, from_pdf=source.paged)
    if source.format == "md":
        text = normalize_text(_markdown_to_text(text))
    text = _relocate_footnotes(text)
    if source.format != "txt":
        text = _PARA_BREAK.sub(_join_broken, text)
    return normalize_text(text)


def _footnotes(text: str, start: int) -> tuple[list[Footnote], list[Unit]]:
    notes: list[Footnote] = []
    units: list[Unit] = []
    for line in text_lines(text, start):
        m = _FN_BODY.match(line.text)
        if m is None:
            continue
        nxt = text.find("\n\n", line.start)
        end = trim_end(text, line.start, len(text) if nxt < 0 else nxt)
        mark = next((x.start() for x in _FN_MARK.finditer(text, 0, start) if x[1] == m[1]), None)
        body_start = line.start + m.end()
        notes.append(Footnote(m[1], text[body_start:end], body_start, end, mark))
        label = f"Chú thích {m[1]}"
        units.append(Unit("footnote", label, "", line.start, end, (label,), 0))
    return notes, units


def _apply_front_matter(meta: DocumentMeta, fm: dict[str, str]) -> DocumentMeta:
    """Non-blank front matter values win over what the parser found."""
    v = {k: fm[k].strip() for k in _FRONT_MATTER_KEYS if isinstance(fm.get(k), str) and fm[k].strip()}
    return replace(
        meta,
        title=v.get("title", meta.title),
        doc_type=v.get("doc_type", meta.doc_type),
        number=normalize_doc_number(v["number"]) if "number" in v else meta.number,
        issued_date=v.get("issued_date", meta.issued_date),
        issuer=v.get("issuer", meta.issuer),
        parent_issuer=v.get("parent_issuer", meta.parent_issuer),
        place=v.get("place", meta.place),
        subject=v.get("subject", meta.subject),
        signer=v.get("signer", meta.signer),
        signer_title=v.get("signer_title", meta.signer_title),
        audience=v.get("audience", meta.audience),  # checked by the pipeline (ingest.audience)
    )


def parse_document(source: SourceDocument, doc_id: str) -> ParsedDocument:
    """Parse one document: metadata, structure units, footnotes, references and warnings."""
    text = prepare_text(source)
    fn_match = re.search(r"^\[\^\w{1,4}\]:", text, re.MULTILINE)
    fn_start = fn_match.start() if fn_match else len(text)
    meta, header_end = parse_header(text, fn_start)
    closing = find_closing_start(text, header_end, fn_start)
    body_end = trim_end(text, header_end, closing if closing is not None else fn_start)
    units: list[Unit] = []
    if header_end:
        units.append(Unit("header", "Đầu văn bản", meta.title, 0, header_end, ("Đầu văn bản",), 0))
    legal = meta.doc_type in LEGAL_TYPES or is_legal(text[header_end:body_end])
    units += body_units(text, header_end, body_end, legal=legal)
    if closing is not None:
        end = trim_end(text, closing, fn_start)
        units.append(Unit("closing", "Cuối văn bản", "", closing, end, ("Cuối văn bản",), 0))
        cc, signer, signer_title = parse_closing(text, closing, end)
        meta = replace(meta, cc=cc, signer=signer, signer_title=signer_title)
    notes, note_units = _footnotes(text, fn_start)
    units += note_units
    if not units and text.strip():
        units = paragraph_units(text, 0, len(text))
    meta = _apply_front_matter(meta, source.front_matter)
    if legal:
        found = parse_validity(text, issued_date=meta.issued_date)
        meta = replace(meta, effective_from=found.effective_from, effective_to=found.effective_to,
                       validity=found.facts)
    refs = find_doc_references(text)
    warnings = number_date_conflicts(text, refs)
    own = own_number_conflict(meta.number, meta.issued_date)
    if own:
        warnings.append(own)
    warnings = [*source.warnings, *warnings]
    pages = map_pages(source.pages, source.text, text)
    if pages:
        ocr = [p for p in pages if p.ocr]
        words = [w.confidence for p in ocr for w in p.words]
        meta = replace(meta, pages=len(pages), ocr_pages=tuple(p.number for p in ocr),
                       ocr_confidence=round(sum(words) / len(words), 1) if words else None)
    return ParsedDocument(
        doc_id=doc_id,
        source_path=source.path,
        sha256=source.sha256,
        format=source.format,
        text=text,
        meta=meta,
        units=tuple(units),
        footnotes=tuple(notes),
        references=tuple(refs),
        warnings=tuple(warnings),
        pages=pages,
    )

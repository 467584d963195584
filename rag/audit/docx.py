"""An audited answer as a Word document: the question, the answer, and each citation as a real footnote.

python-docx has no footnote API, so the footnotes part (word/footnotes.xml) is written here and related to the
main document part; each citation's first [n] in the answer becomes a footnote reference."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping

from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml.ns import qn
from docx.shared import Pt
from docx.text.paragraph import Paragraph
from lxml import etree

from rag.audit.record import AuditCitation, AuditRecord

FOOTNOTES_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_MARKER = re.compile(r"\[(\d+)\]")
_STATUS_VI = {"in_force": "còn hiệu lực", "ended": "hết hiệu lực", "not_yet": "chưa có hiệu lực",
              "unknown": "không rõ"}


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


def status_vi(status: str | None) -> str:
    return _STATUS_VI.get(status or "unknown", status or "không rõ")


def _w(tag: str, parent: etree._Element | None = None, **attrs: str) -> etree._Element:
    el = etree.Element(qn(tag)) if parent is None else etree.SubElement(parent, qn(tag))
    for k, v in attrs.items():
        el.set(qn(f"w:{k}"), v)
    return el


def _run(parent: etree._Element, text: str, *, superscript: bool = False, italic: bool = False) -> None:
    r = _w("w:r", parent)
    props = _w("w:rPr", r)
    if italic:
        _w("w:i", props)
    if superscript:
        _w("w:vertAlign", props, val="superscript")
    _w("w:sz", props, val="18")
    t = _w("w:t", r)
    t.text = text
    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")


def footnote_lines(c: AuditCitation, status_now: str) -> list[tuple[str, bool]]:
    """(text, italic) lines of one citation's footnote."""
    head = ", ".join(x for x in (
        nfc(c.title), f"số hiệu {nfc(c.number)}" if c.number else "",
        f"ngày {c.issued_date}" if c.issued_date else "", nfc(c.issuer)) if x)
    return [
        (f"[{c.n}] {head}", False),
        (nfc(c.breadcrumb), False),
        (f"“{nfc(c.quote)}”", True),
        (f"Hiệu lực: {status_vi(c.status)} khi trả lời; {status_now} khi xuất.", False),
    ]


def _footnotes_part(document: object, notes: list[tuple[int, AuditCitation, str]]) -> None:
    root = _w("w:footnotes")
    for fid, kind, mark in ((-1, "separator", "w:separator"), (0, "continuationSeparator", "w:continuationSeparator")):
        note = _w("w:footnote", root, type=kind, id=str(fid))
        _w(mark, _w("w:r", _w("w:p", note)))
    for fid, cite, status_now in notes:
        note = _w("w:footnote", root, id=str(fid))
        for i, (text, italic) in enumerate(footnote_lines(cite, status_now)):
            p = _w("w:p", note)
            if i == 0:
                ref = _w("w:r", p)
                _w("w:vertAlign", _w("w:rPr", ref), val="superscript")
                _w("w:footnoteRef", ref)
                text = " " + text
            _run(p, text, italic=italic)
    part_doc = document.part  # type: ignore[attr-defined]
    blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    part = Part(PackURI("/word/footnotes.xml"), FOOTNOTES_CT, blob, part_doc.package)
    part_doc.relate_to(part, RT.FOOTNOTES)


def _answer_paragraph(p: Paragraph, text: str, order: Mapping[int, int]) -> None:
    """The answer with each citation's first [n] as a footnote reference (later ones as its number)."""
    seen: set[int] = set()
    pos = 0
    for m in _MARKER.finditer(text):
        p.add_run(text[pos:m.start()])
        n = int(m.group(1))
        if n in order and n not in seen:
            seen.add(n)
            r = _w("w:r", p._p)
            _w("w:vertAlign", _w("w:rPr", r), val="superscript")
            _w("w:footnoteReference", r, id=str(order[n]))
        elif n in order:
            p.add_run(str(order[n])).font.superscript = True
        else:
            p.add_run(m.group(0))
        pos = m.end()
    p.add_run(text[pos:])
    for n, fid in order.items():  # a citation the text never marks still gets its footnote, at the end
        if n not in seen:
            r = _w("w:r", p._p)
            _w("w:vertAlign", _w("w:rPr", r), val="superscript")
            _w("w:footnoteReference", r, id=str(fid))


def answer_docx(record: AuditRecord, statuses_now: Mapping[str, str | None], exported_at: str) -> bytes:
    """The DOCX bytes of an audited answer; `statuses_now` maps doc_id to its validity at export time
    (absent: the document is no longer stored)."""
    doc = Document()
    doc.styles["Normal"].font.name = "Times New Roman"
    doc.styles["Normal"].font.size = Pt(13)
    doc.add_heading("Câu trả lời có trích dẫn", level=1)
    doc.add_heading("Câu hỏi", level=2)
    doc.add_paragraph(nfc(record.question))
    doc.add_heading("Trả lời", level=2)
    order = {c.n: i for i, c in enumerate(record.citations, 1)}
    _answer_paragraph(doc.add_paragraph(), nfc(record.answer), order)
    if record.abstained:
        doc.add_paragraph("Các văn bản trong kho không trả lời câu hỏi này.").runs[0].italic = True
    notes = []
    for c in record.citations:
        now = status_vi(statuses_now[c.doc_id]) if c.doc_id in statuses_now else "văn bản không còn trong kho"
        notes.append((order[c.n], c, now))
    _footnotes_part(doc, notes)
    meta = doc.add_paragraph()
    meta.add_run(f"Trả lời lúc {record.time} (UTC) từ kho văn bản phiên bản {record.corpus_version}; "
                 f"mã câu trả lời {record.id}. Xuất lúc {exported_at} (UTC).").font.size = Pt(10)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def footnote_texts(docx_bytes: bytes) -> list[str]:
    """The text of each footnote of a DOCX (separators excluded): for tests and checks."""
    pkg = Document(io.BytesIO(docx_bytes)).part.package
    part = next((p for p in pkg.iter_parts() if p.partname == "/word/footnotes.xml"), None)
    if part is None:
        return []
    root = etree.fromstring(part.blob)
    notes = [n for n in root.iter(f"{{{W_NS}}}footnote") if n.get(f"{{{W_NS}}}type") is None]
    return ["\n".join("".join(t.text or "" for t in p.iter(f"{{{W_NS}}}t")) for p in n.iter(f"{{{W_NS}}}p"))
            for n in notes]

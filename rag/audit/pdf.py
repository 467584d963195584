"""An audited answer as a PDF: the same content as the DOCX (rag.audit.docx), each citation a numbered note.

ReportLab (BSD) lays it out with DejaVu Sans from Debian (`fonts-dejavu-core`), which has every Vietnamese
letter; PDF has no footnote object, so each citation's first [n] becomes a superscript number and the notes
follow the answer under "Chú thích"."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from rag.audit.docx import footnote_lines, nfc, status_vi
from rag.audit.record import AuditRecord

PDF_MEDIA_TYPE = "application/pdf"
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
_MARKER = re.compile(r"\[(\d+)\]")


class PdfUnavailable(RuntimeError):
    """The fonts a Vietnamese PDF needs are not installed."""


def _fonts() -> tuple[str, str]:
    """Register DejaVu Sans (regular, bold) once; their ReportLab names."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "PQ-Sans" in pdfmetrics.getRegisteredFontNames():
        return "PQ-Sans", "PQ-Sans-Bold"
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont("PQ-Sans", str(regular)))
            pdfmetrics.registerFont(TTFont("PQ-Sans-Bold", str(bold)))
            return "PQ-Sans", "PQ-Sans-Bold"
    raise PdfUnavailable("PDF export needs the DejaVu fonts: apt-get install -y fonts-dejavu-core")


def _answer_markup(text: str, order: Mapping[int, int]) -> str:
    """The answer with each cited [n] as a superscript note number (its first occurrence), others dropped."""
    out, seen, last = [], set(), 0
    for m in _MARKER.finditer(text):
        out.append(escape(text[last:m.start()]))
        n = int(m.group(1))
        if n in order and n not in seen:
            seen.add(n)
            out.append(f"<super>{order[n]}</super>")
        elif n not in order:
            out.append(escape(m.group(0)))
        last = m.end()
    out.append(escape(text[last:]))
    return "".join(out)


def answer_pdf(record: AuditRecord, statuses_now: Mapping[str, str | None], exported_at: str) -> bytes:
    """The PDF bytes of an audited answer (`statuses_now`: doc_id -> validity at export time)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=11, leading=15)
    head = ParagraphStyle("head", parent=body, fontName=bold, fontSize=13, leading=18, spaceBefore=8)
    title = ParagraphStyle("title", parent=head, fontSize=16, leading=22)
    note = ParagraphStyle("note", parent=body, fontSize=9.5, leading=12.5, leftIndent=14, spaceAfter=6)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11)
    order = {c.n: i for i, c in enumerate(record.citations, 1)}
    story = [Paragraph("Câu trả lời có trích dẫn", title), Paragraph("Câu hỏi", head),
             Paragraph(escape(nfc(record.question)), body), Paragraph("Trả lời", head),
             Paragraph(_answer_markup(nfc(record.answer), order), body)]
    if record.abstained:
        story.append(Paragraph("<i>Các văn bản trong kho không trả lời câu hỏi này.</i>", body))
    if record.citations:
        story.append(Paragraph("Chú thích", head))
    for c in record.citations:
        now = status_vi(statuses_now[c.doc_id]) if c.doc_id in statuses_now else "văn bản không còn trong kho"
        lines = [escape(text) for text, _ in footnote_lines(c, now)]
        story.append(Paragraph(f"<super>{order[c.n]}</super> " + "<br/>".join(lines), note))
    story += [Spacer(1, 10), Paragraph(escape(
        f"Trả lời lúc {record.time} (UTC) từ kho văn bản phiên bản {record.corpus_version}; mã câu trả lời "
        f"{record.id}. Xuất lúc {exported_at} (UTC)."), small)]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=2.5 * cm, rightMargin=2 * cm, topMargin=2 * cm,
                      bottomMargin=2 * cm, title="Câu trả lời có trích dẫn", author="policyqa").build(story)
    return out.getvalue()

"""A page of a stored original (PDF or image) as a PNG, with the quoted words highlighted from their boxes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.load.limits import LoadError, LoadLimits
from ingest.load.raster import image_pages, open_image, open_pdfium, render_pdf_page
from ingest.load.sniff import sniff_format
from rag.answer.locate import locate

VIEW_DPI = 110  # page images for the reader: legible, about 0.3 MB a page
HIGHLIGHT = (255, 214, 0, 110)  # translucent yellow


def page_count(data: bytes, limits: LoadLimits) -> int:
    """Pages of a PDF or frames of an image."""
    if sniff_format(data) == "pdf":
        return len(open_pdfium(data))
    return int(getattr(open_image(data, limits), "n_frames", 1))


def page_png(data: bytes, page: int, boxes: Sequence[tuple[float, float, float, float]], limits: LoadLimits) -> bytes:
    """Page `page` (1-based) as PNG; each box (fractions of the page) is painted over in translucent yellow."""
    from PIL import Image, ImageDraw

    n = page_count(data, limits)
    if not 1 <= page <= n:
        raise LoadError(f"page {page} is out of range (the document has {n} pages)")
    if sniff_format(data) == "pdf":
        img = render_pdf_page(open_pdfium(data), page - 1, limits, dpi=VIEW_DPI).convert("RGB")
    else:
        frames = image_pages(open_image(data, limits))
        for _ in range(page - 1):
            next(frames)
        img = next(frames).convert("RGB")
        img.thumbnail((round(8.27 * VIEW_DPI * 1.5), round(11.7 * VIEW_DPI * 1.5)))
    if boxes:
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        w, h = img.size
        for x0, y0, x1, y1 in boxes:
            draw.rectangle([x0 * w - 2, y0 * h - 2, x1 * w + 2, y1 * h + 2], fill=HIGHLIGHT)
        img = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False)
    return buf.getvalue()


class PageMissing(LookupError):
    """No such document, page, or stored original to draw it from (HTTP 404 at the edge)."""


class BadSpan(ValueError):
    """start/end are not a span of the document's text (HTTP 422 at the edge)."""


@dataclass(frozen=True)
class PageView:
    """A drawn page and whether the quote is highlighted on it (else `note` says why not)."""

    png: bytes
    highlighted: bool
    note: str | None


def quote_boxes(snap: Any, doc: Any, page: int, start: int | None, end: int | None,
                ) -> tuple[list[tuple[float, float, float, float]], str | None]:
    """The boxes of the quote [start, end) on `page` and, when there are none, the reason."""
    if start is None or end is None:
        return [], "no quote given"
    if end <= start or end > len(doc.text):
        raise BadSpan(f"start/end must be a span of the document's text (0 ≤ start < end ≤ {len(doc.text)})")
    chunks = [snap.chunks[cid] for cid in snap.by_doc.get(doc.doc_id, doc.chunk_ids) if cid in snap.chunks]
    chunk = next((c for c in chunks if c.start <= start and end <= c.end), None)
    if chunk is None:
        return [], "the quote does not lie inside one passage"
    where = locate(chunk, start, end, doc.text[start:end])
    boxes = [b[1:] for b in where.boxes if b[0] == page]
    note = where.highlight_note or (None if boxes else ("not an OCR page: its text layer has no word boxes"
                                                         if page not in doc.meta.ocr_pages else
                                                         "the quote is not on this page"))
    return boxes, note


def page_view(snap: Any, originals: Path, doc_id: str, page: int, start: int | None, end: int | None,
              limits: LoadLimits) -> PageView:
    """Page `page` of a stored document drawn from its original, the quote highlighted when it maps onto the
    OCR words with high confidence. Raises PageMissing, BadSpan, or LoadError (the original cannot be drawn)."""
    doc = snap.docs.get(doc_id)
    if doc is None:
        raise PageMissing(f"no document with id {doc_id!r}")
    original = originals / doc.sha256
    if not doc.meta.pages or not original.is_file():
        raise PageMissing(f"document {doc_id!r} has no page images (not a PDF or scan, or ingested before pages "
                          "were kept: re-ingest it)")
    if page > doc.meta.pages:
        raise PageMissing(f"document {doc_id!r} has {doc.meta.pages} pages")
    boxes, note = quote_boxes(snap, doc, page, start, end)
    png = page_png(original.read_bytes(), page, boxes, limits)
    return PageView(png, bool(boxes), note)

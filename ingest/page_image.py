"""A page of a stored original (PDF or image) as a PNG, with the quoted words highlighted from their boxes."""

from __future__ import annotations

import io
from collections.abc import Sequence

from ingest.load.limits import LoadError, LoadLimits
from ingest.load.raster import image_pages, open_image, open_pdfium, render_pdf_page
from ingest.load.sniff import sniff_format

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

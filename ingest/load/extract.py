"""Per-format text extraction: Markdown/TXT in this process; DOCX, PDF, HTML and images through `_EXTRACTORS`."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

from ingest.load.limits import (
    MAX_ZIP_MEMBERS,
    MAX_ZIP_RATIO,
    ZIP_RATIO_MIN_BYTES,
    LoadError,
    LoadLimits,
    _check_chars,
    _check_ocr_pages,
    _check_pages,
    _printable,
    _size,
)
from ingest.load.ocr import read_page
from ingest.load.pages import Extracted, PageSource, Progress, assemble
from ingest.load.raster import image_pages, open_image, open_pdfium, render_pdf_page
from ingest.load.sniff import _decode_text, split_front_matter

MIN_TEXT_LAYER_CHARS = 3  # a page with less text than this has no text layer worth keeping: it is OCRed


def _plain_text(data: bytes, fmt: str, limits: LoadLimits) -> tuple[dict[str, str], str]:
    """Markdown or TXT: decode, check the length, and for Markdown strip the front matter."""
    front: dict[str, str] = {}
    text = _decode_text(data)
    _check_chars(len(text), "the Markdown file" if fmt == "md" else "the text file", limits)
    if fmt == "md":
        front, text = split_front_matter(text)
    return front, text


def check_docx_container(data: bytes, limits: LoadLimits) -> None:
    """Refuse ZIP bombs by the sizes the ZIP declares, before python-docx inflates anything."""
    # zipfile never inflates past a member's declared size (it fails the CRC instead), so the sums are honest.
    # Entity attacks need no check here: python-docx parses with resolve_entities=False and libxml2 refuses
    # exponential expansion ("Maximum entity amplification factor exceeded").
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = zf.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise LoadError(f"DOCX has {len(members):,} ZIP members; the limit is {MAX_ZIP_MEMBERS:,}")
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise LoadError(f"DOCX unpacks to {_size(total)}; the limit is {_size(limits.max_unzipped_bytes)} "
                        "(POLICYQA_MAX_UNZIPPED_BYTES)")
    for m in members:
        if m.file_size > ZIP_RATIO_MIN_BYTES and m.file_size > MAX_ZIP_RATIO * max(m.compress_size, 1):
            ratio = m.file_size / max(m.compress_size, 1)
            raise LoadError(f"DOCX member {_printable(m.filename, 80)!r} expands {ratio:,.0f} times "
                            f"({_size(m.compress_size)} to {_size(m.file_size)}); over {MAX_ZIP_RATIO} times "
                            "is refused as a ZIP bomb")


def _local(node: Any) -> str:
    # Comments, processing instructions and entity references have a function as their tag.
    tag = node.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text_of(el: Any) -> str:
    return "".join(node.text or "" for node in el.iter() if _local(node) == "t")


def _docx_text(data: bytes, limits: LoadLimits, progress: Progress) -> Extracted:
    check_docx_container(data, limits)
    import docx  # python-docx

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    # Walk paragraphs and tables in document order so table text is not lost.
    for child in document.element.body.iterchildren():
        tag = _local(child)
        if tag == "p":
            lines.append(_text_of(child))
        elif tag == "tbl":
            for row in child.iter():
                if _local(row) == "tr":
                    cells = [" ".join(_text_of(p) for p in cell if _local(p) == "p").strip()
                             for cell in row if _local(cell) == "tc"]
                    lines.append("\n".join(c for c in cells if c))
    return Extracted("\n\n".join(lines))


def _declared_pages(reader: Any) -> int:
    try:
        return int(reader.trailer["/Root"]["/Pages"]["/Count"])
    except Exception:  # no usable count in the page tree: the pages are counted as they are walked instead
        return 0


def _pdf_text(data: bytes, limits: LoadLimits, progress: Progress) -> Extracted:
    """Each page's text layer; pages without one (scans) are rendered and OCRed."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise LoadError("encrypted PDF")
        _check_pages(_declared_pages(reader), limits)  # the page tree's own count: refuses before walking it
        _check_pages(len(reader.pages), limits)  # the walk, in case the count lied
        pages: list[str] = []
        total = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            total += len(pages[-1]) + 2
            _check_chars(total, "text extracted from the PDF", limits)
    except LoadError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise LoadError(f"corrupt PDF ({exc.__class__.__name__}: {_printable(str(exc))})") from exc
    blank = [i for i, t in enumerate(pages) if len(t.strip()) < MIN_TEXT_LAYER_CHARS]
    sources = [PageSource(i + 1, text=t) for i, t in enumerate(pages)]
    if blank:
        _check_ocr_pages(len(blank), limits)  # before any page is rendered: a 500-page scan goes in seconds
        pdf = open_pdfium(data)
        progress(0, len(blank))
        for done, i in enumerate(blank, 1):
            sources[i] = PageSource(i + 1, read=read_page(render_pdf_page(pdf, i, limits),
                                                          timeout_s=limits.ocr_page_timeout_s))
            progress(done, len(blank))
    out = assemble(sources, min_confidence=limits.ocr_min_confidence)
    if not out.text.strip():
        raise LoadError("PDF has no text: no text layer and OCR read nothing")
    return out


def _image_text(data: bytes, limits: LoadLimits, progress: Progress) -> Extracted:
    """PNG, JPEG or TIFF (every page of a multi-page TIFF) through OCR."""
    img = open_image(data, limits)
    frames = getattr(img, "n_frames", 1)
    sources: list[PageSource] = []
    progress(0, frames)
    for n, frame in enumerate(image_pages(img), 1):
        sources.append(PageSource(n, read=read_page(frame, timeout_s=limits.ocr_page_timeout_s)))
        progress(n, frames)
    out = assemble(sources, min_confidence=limits.ocr_min_confidence)
    if not out.text.strip():
        raise LoadError("OCR found no text in the image" + (f" ({out.warnings[0]})" if out.warnings else ""))
    return out


def _html_text(data: bytes, limits: LoadLimits, progress: Progress) -> Extracted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    # Only what a reader sees: no code, no embedded frames or objects (comments are skipped by get_text).
    for tag in soup(["script", "style", "noscript", "head", "template", "iframe", "object", "embed"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    blocks = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "pre", "blockquote"]):
        if el.find(["p", "li", "td", "h1", "h2", "h3", "h4", "h5", "h6"]):
            continue  # a container: its children are emitted on their own
        txt = el.get_text(" ", strip=True)
        if txt:
            blocks.append(("- " if el.name == "li" else "") + txt)
    if not blocks:
        blocks = [soup.get_text("\n", strip=True)]
    return Extracted("\n\n".join(blocks))


_EXTRACTORS: dict[str, Callable[[bytes, LoadLimits, Progress], Extracted]] = {
    "docx": _docx_text, "pdf": _pdf_text, "html": _html_text, "png": _image_text, "jpeg": _image_text,
    "tiff": _image_text}

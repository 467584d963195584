"""Pages → one document text: each page's text (text layer or OCR) joined, with Page records and warnings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.load.layout import PageLayout, page_text, repeated_furniture
from ingest.load.ocr import PageRead
from rag.records import OcrWord, Page

PAGE_BREAK = "\n\n"
Progress = Callable[[int, int], None]  # (pages done, pages in all)


@dataclass(frozen=True)
class Extracted:
    """What a parser returns: the text and, for PDFs and images, its pages and the loader's warnings."""

    text: str
    pages: tuple[Page, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageSource:
    """One page before assembly: a text layer's text, or what OCR read."""

    number: int
    text: str | None = None  # the text layer (None: the page was OCRed)
    read: PageRead | None = None


def assemble(sources: list[PageSource], *, min_confidence: float) -> Extracted:
    """Join pages in order; OCR pages keep their words; failed pages are reported, the others kept."""
    layouts: list[PageLayout] = [s.read.layout for s in sources if s.read is not None and s.read.layout]
    drop = repeated_furniture(layouts)
    parts: list[str] = []
    pages: list[Page] = []
    warnings: list[str] = []
    pos = 0
    for src in sources:
        if parts:
            parts.append(PAGE_BREAK)
            pos += len(PAGE_BREAK)
        if src.read is None:
            text = src.text or ""
            pages.append(Page(src.number, pos, pos + len(text)))
        elif src.read.layout is None:
            text = ""
            warnings.append(f"page {src.number}: {src.read.error}; the rest of the document was kept")
            pages.append(Page(src.number, pos, pos, ocr=True, error=src.read.error))
        else:
            text, words = page_text(src.read.layout, src.number, pos, drop)
            pages.append(Page(src.number, pos, pos + len(text), ocr=True, confidence=_mean(words), words=tuple(words)))
        parts.append(text)
        pos += len(text)
    ocr_words = [w for p in pages for w in p.words]
    mean = _mean(ocr_words)
    if mean is not None and mean < min_confidence:
        warnings.append(f"low OCR confidence: {mean:.0f}/100 over {len(ocr_words):,} words, below "
                        f"{min_confidence:g} (POLICYQA_OCR_MIN_CONFIDENCE); check the text against the original")
    return Extracted("".join(parts), tuple(pages), tuple(warnings))


def _mean(words: list[OcrWord]) -> float | None:
    return round(sum(w.confidence for w in words) / len(words), 1) if words else None

"""Where a quote sits on the page: its page numbers and, on OCR pages, the boxes of the words it quotes.

A highlight is drawn only when the quote maps onto the OCR words with high confidence; otherwise the
citation says why (the page is still shown, without a highlight)."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from rag.records import Chunk
from rag.text.normalize import fold_accents

HIGHLIGHT_CONFIDENCE = 60.0  # mean word confidence of the quoted words needed to highlight them
MIN_MATCH = 0.9  # share of the quote's letters that the words' letters must match


@dataclass(frozen=True)
class Location:
    page: int | None
    pages: tuple[int, ...]
    boxes: tuple[tuple[int, float, float, float, float], ...] = ()
    ocr_confidence: float | None = None
    highlight_note: str | None = None


def _letters(text: str) -> str:
    return "".join(ch for ch in fold_accents(text) if ch.isalnum())


def locate(chunk: Chunk, start: int, end: int, quote: str, *,
           min_confidence: float = HIGHLIGHT_CONFIDENCE) -> Location:
    """The pages of document text[start:end] (inside `chunk`) and, when OCR read them, the word boxes."""
    if not chunk.pages:
        return Location(None, ())
    starts = chunk.page_starts or (chunk.start,) * len(chunk.pages)
    pages = tuple(p for i, p in enumerate(chunk.pages)
                  if starts[i] < end and (i + 1 == len(starts) or start < starts[i + 1]))
    pages = pages or chunk.pages[:1]
    words = [w for w in chunk.words if w.start < end and w.end > start]
    if not words:
        return Location(pages[0], pages)
    conf = round(sum(w.confidence for w in words) / len(words), 1)
    read, wanted = _letters(" ".join(w.text for w in words)), _letters(quote)
    match = SequenceMatcher(None, read, wanted, autojunk=False).ratio() if wanted else 0.0
    if match < MIN_MATCH:
        return Location(pages[0], pages, (), conf,
                        f"the quote matches the OCR words only {match:.0%}: no highlight")
    if conf < min_confidence:
        return Location(pages[0], pages, (), conf,
                        f"OCR confidence of the quoted words is {conf:.0f}/100 (below {min_confidence:g}): "
                        "no highlight")
    return Location(pages[0], pages, tuple((w.page, *w.box) for w in words), conf)

"""Page offsets through normalisation: the loader's pages and OCR words, moved into the parsed text.

Normalisation (NFC, tone marks, whitespace, joined lines, de-hyphenation) only adds or removes spaces, line
breaks, hyphens and combining marks, so the letters and digits of both texts are the same sequence: an offset
maps to the same letter counted from the start.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import replace

from rag.records import OcrWord, Page


def _letters(text: str) -> list[int]:
    """Offsets of the letters and digits of text, in order."""
    return [i for i, ch in enumerate(text) if ch.isalnum()]


class OffsetMap:
    """Maps offsets of the loaded text to offsets of the normalised text."""

    def __init__(self, source: str, target: str) -> None:
        self._src = _letters(source)
        self._dst = _letters(target)
        self._len = len(target)

    def start(self, offset: int) -> int:
        """Where the first letter at or after `offset` sits in the target."""
        k = bisect_left(self._src, offset)
        return self._dst[k] if k < len(self._dst) else self._len

    def end(self, offset: int) -> int:
        """Just after the last letter before `offset`, in the target."""
        k = bisect_left(self._src, offset)
        return self._dst[k - 1] + 1 if 0 < k <= len(self._dst) else (0 if k == 0 else self._len)


def map_pages(pages: tuple[Page, ...], source: str, target: str) -> tuple[Page, ...]:
    """The pages (and their OCR words) with offsets into the normalised text."""
    if not pages:
        return ()
    m = OffsetMap(source, target)
    out = []
    for p in pages:
        start = m.start(p.start)
        end = max(start, m.end(p.end))
        words = tuple(_word(m, w) for w in p.words)
        out.append(replace(p, start=start, end=end, words=tuple(w for w in words if w.end > w.start)))
    return tuple(out)


def _word(m: OffsetMap, w: OcrWord) -> OcrWord:
    start = m.start(w.start)
    return replace(w, start=start, end=max(start, m.end(w.end)))


def pages_of(pages: tuple[Page, ...], start: int, end: int) -> tuple[int, ...]:
    """Numbers of the pages the span [start, end) lies on."""
    return tuple(p.number for p in pages if p.start < end and start < p.end)


def page_starts(pages: tuple[Page, ...], start: int, end: int) -> tuple[int, ...]:
    """For each page the span lies on, where it starts (never before the span)."""
    return tuple(max(p.start, start) for p in pages if p.start < end and start < p.end)


def words_in(pages: tuple[Page, ...], start: int, end: int) -> tuple[OcrWord, ...]:
    """OCR words inside the span [start, end)."""
    return tuple(w for p in pages if p.start < end and start < p.end for w in p.words
                 if w.start >= start and w.end <= end)

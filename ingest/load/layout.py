"""OCR words → page text in reading order: lines, the two-column header zone, blocks, margins dropped.

Pure functions over Tesseract's word table, so the layout rules are tested without Tesseract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from statistics import median
from typing import Any

import yaml

from rag.records import OcrWord


@dataclass(frozen=True)
class RawWord:
    """One word of Tesseract's table, in pixels of the page image."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float
    line: tuple[int, int, int]  # (block, paragraph, line) as Tesseract numbered them

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height


@dataclass(frozen=True)
class Segment:
    """Words of one line on one side of a wide gap."""

    words: tuple[RawWord, ...]

    @property
    def left(self) -> int:
        return min(w.left for w in self.words)

    @property
    def right(self) -> int:
        return max(w.right for w in self.words)

    @property
    def top(self) -> int:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> int:
        return max(w.bottom for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class PageLayout:
    """A page's text blocks in reading order (each a list of segments, one per line) and its size."""

    blocks: tuple[tuple[Segment, ...], ...]
    width: int
    height: int
    furniture: tuple[Segment, ...] = ()  # margin lines kept aside: the caller drops those repeated on pages


@lru_cache(maxsize=1)
def ocr_rules() -> dict[str, Any]:
    """The knowledge table ingest/data/ocr.yaml."""
    rules = yaml.safe_load(resources.files("ingest").joinpath("data/ocr.yaml").read_text(encoding="utf-8"))
    rules["page_number_res"] = [re.compile(p) for p in rules["page_number_patterns"]]
    return dict(rules)


def is_page_number(text: str) -> bool:
    """A line that is only a page number ("2", "- 2 -", "Trang 2/5")."""
    low = " ".join(text.lower().split())
    return any(r.match(low) for r in ocr_rules()["page_number_res"])


def words_from_table(table: dict[str, list[Any]], min_confidence: float = 0.0) -> list[RawWord]:
    """Tesseract's image_to_data dictionary → words (empty and non-word rows dropped)."""
    out = []
    for i, text in enumerate(table["text"]):
        conf = float(table["conf"][i])
        text = str(text).strip()
        if not text or conf < min_confidence or conf < 0:
            continue
        out.append(RawWord(text, int(table["left"][i]), int(table["top"][i]), int(table["width"][i]),
                           int(table["height"][i]), conf,
                           (int(table["block_num"][i]), int(table["par_num"][i]), int(table["line_num"][i]))))
    return out


def _lines(words: list[RawWord]) -> list[list[RawWord]]:
    by_line: dict[tuple[int, int, int], list[RawWord]] = {}
    for w in words:
        by_line.setdefault(w.line, []).append(w)
    return [sorted(ws, key=lambda w: w.left) for ws in by_line.values()]


def split_segments(line: list[RawWord], width: int) -> list[Segment]:
    """Cut a line at horizontal gaps wider than the column gap (the header's two columns on one line)."""
    gap = ocr_rules()["column_gap"] * width
    out: list[list[RawWord]] = [[line[0]]]
    for prev, w in zip(line, line[1:], strict=False):
        if w.left - prev.right > gap:
            out.append([w])
        else:
            out[-1].append(w)
    return [Segment(tuple(ws)) for ws in out]


def _side(seg: Segment, width: int) -> str:
    slack = ocr_rules()["column_slack"] * width
    if seg.right <= width / 2 + slack:
        return "left"
    if seg.left >= width / 2 - slack:
        return "right"
    return "full"


def _blocks(segs: list[Segment], line_height: float) -> list[list[Segment]]:
    """Consecutive segments (top to bottom) split where the vertical gap exceeds the block gap."""
    limit = ocr_rules()["block_gap_lines"] * line_height
    out: list[list[Segment]] = []
    for s in segs:
        if out and s.top - out[-1][-1].bottom <= limit:
            out[-1].append(s)
        else:
            out.append([s])
    return out


def _zone_blocks(zone: list[Segment], width: int, line_height: float) -> list[list[Segment]]:
    """A two-column zone: each column's blocks, ordered by their top (left first when they start level)."""
    cols = {side: [s for s in zone if _side(s, width) == side] for side in ("left", "right")}
    blocks = [(b[0].top, 0 if side == "left" else 1, b) for side, segs in cols.items()
              for b in _blocks(sorted(segs, key=lambda s: s.top), line_height)]
    # Blocks starting within a line height of each other are one row: the left one first.
    blocks.sort(key=lambda t: t[0])
    rows: list[list[tuple[int, int, list[Segment]]]] = []
    for b in blocks:
        if rows and b[0] - rows[-1][0][0] < line_height:
            rows[-1].append(b)
        else:
            rows.append([b])
    return [b for row in rows for _, _, b in sorted(row, key=lambda t: t[1])]


def page_layout(words: list[RawWord], width: int, height: int) -> PageLayout:
    """Reading order of one page: full-width text top to bottom, two-column zones column by column."""
    rules = ocr_rules()
    segs = [s for line in _lines(words) for s in split_segments(line, width)]
    if not segs:
        return PageLayout((), width, height)
    line_height = median(s.bottom - s.top for s in segs) or 1
    body: list[Segment] = []
    furniture: list[Segment] = []
    for s in segs:
        middle = (s.top + s.bottom) / 2
        in_margin = middle < rules["top_margin"] * height or middle > (1 - rules["bottom_margin"]) * height
        if in_margin and is_page_number(s.text):
            continue  # a page number: never text
        (furniture if in_margin else body).append(s)
    body.sort(key=lambda s: (s.top, s.left))
    # Rows: segments whose vertical extents overlap are one row; a row with a column segment opens a zone.
    blocks: list[list[Segment]] = []
    zone: list[Segment] = []
    run: list[Segment] = []

    def flush_run() -> None:
        blocks.extend(_blocks(run, line_height))
        run.clear()

    def flush_zone() -> None:
        blocks.extend(_zone_blocks(zone, width, line_height))
        zone.clear()

    for s in body:
        if _side(s, width) == "full":
            flush_zone()
            run.append(s)
        else:
            flush_run()
            zone.append(s)
    flush_zone()
    flush_run()
    return PageLayout(tuple(tuple(b) for b in blocks), width, height, tuple(furniture))


def _furniture_key(seg: Segment) -> str:
    return re.sub(r"\d+", "#", " ".join(seg.text.lower().split()))


def repeated_furniture(layouts: list[PageLayout]) -> set[str]:
    """Margin lines that recur on two or more pages (running headers and footers, digits ignored)."""
    seen: dict[str, int] = {}
    for lay in layouts:
        for key in {_furniture_key(s) for s in lay.furniture}:
            seen[key] = seen.get(key, 0) + 1
    return {k for k, n in seen.items() if n >= 2}


def page_text(layout: PageLayout, page: int, offset: int, drop: set[str]) -> tuple[str, list[OcrWord]]:
    """The page's text (lines joined by newlines, blocks by blank lines) and its words with offsets.

    `offset` is where the page's text will start in the document's text; margin lines whose key is in
    `drop` are left out, the other margin lines are kept in place (a lone margin line may be text)."""
    blocks = list(layout.blocks)
    kept = [s for s in layout.furniture if _furniture_key(s) not in drop]
    if kept:  # back where they were: a margin line at the top goes first, at the bottom last
        top = [s for s in kept if s.top < layout.height / 2]
        bottom = [s for s in kept if s.top >= layout.height / 2]
        blocks = ([tuple(top)] if top else []) + blocks + ([tuple(bottom)] if bottom else [])
    parts: list[str] = []
    words: list[OcrWord] = []
    pos = offset
    W, H = layout.width or 1, layout.height or 1
    for b, block in enumerate(blocks):
        if b:
            parts.append("\n\n")
            pos += 2
        for n, seg in enumerate(block):
            if n:
                parts.append("\n")
                pos += 1
            for k, w in enumerate(seg.words):
                if k:
                    parts.append(" ")
                    pos += 1
                box = (round(w.left / W, 4), round(w.top / H, 4), round(w.right / W, 4), round(w.bottom / H, 4))
                words.append(OcrWord(w.text, pos, pos + len(w.text), page, box, round(w.confidence, 1)))
                parts.append(w.text)
                pos += len(w.text)
    return "".join(parts), words

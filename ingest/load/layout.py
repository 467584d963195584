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
    angle: float = 0.0  # degrees the page was turned (counter-clockwise) to straighten it before OCR

    def box(self, w: RawWord) -> tuple[float, float, float, float]:
        """A word's box in fractions of the page as scanned (the straightening undone)."""
        x0, y0, x1, y1 = float(w.left), float(w.top), float(w.right), float(w.bottom)
        if self.angle:
            import math

            a = math.radians(self.angle)
            cx, cy = self.width / 2, self.height / 2
            xs, ys = [], []
            for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
                dx, dy = x - cx, y - cy  # PIL turns counter-clockwise for positive angles (y points down)
                xs.append(cx + dx * math.cos(a) + dy * math.sin(a))
                ys.append(cy - dx * math.sin(a) + dy * math.cos(a))
            x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        W, H = self.width or 1, self.height or 1
        return (round(max(0.0, x0 / W), 4), round(max(0.0, y0 / H), 4), round(min(1.0, x1 / W), 4),
                round(min(1.0, y1 / H), 4))


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
    rules = ocr_rules()
    out = []
    for i, text in enumerate(table["text"]):
        conf = float(table["conf"][i])
        text = str(text).strip()
        if not text or conf < min_confidence or conf < 0 or conf < rules["garbage_confidence"]:
            continue
        if conf < rules["noise_confidence"] and not any(ch.isalnum() for ch in text):
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
    rules = ocr_rules()
    if seg.right <= rules["left_column_to"] * width:
        return "left"
    if seg.left >= rules["right_column_from"] * width:
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


def _zone_start(run: list[Segment], first: Segment, line_height: float) -> list[Segment]:
    """The left-column lines level with (or just above, in the same row) the segment that opens a zone."""
    moved: list[Segment] = []
    while run and run[-1].bottom > first.top - line_height * 0.5 and run[-1].right < first.left:
        moved.insert(0, run.pop())
    return moved


def page_layout(words: list[RawWord], width: int, height: int, angle: float = 0.0) -> PageLayout:
    """Reading order of one page: full-width text top to bottom, two-column zones column by column."""
    rules = ocr_rules()
    segs = [s for line in _lines(words) for s in split_segments(line, width)]
    if not segs:
        return PageLayout((), width, height, angle=angle)
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
        side = _side(s, width)
        if side == "full" or (side == "left" and not zone):
            # A short line on the left outside a zone is the end of a paragraph, not a column.
            flush_zone()
            run.append(s)
        else:  # a zone opens at a segment right of the middle and holds every column segment after it
            if not zone:
                zone.extend(_zone_start(run, s, line_height))
            flush_run()
            zone.append(s)
    flush_zone()
    flush_run()
    return PageLayout(tuple(tuple(b) for b in blocks), width, height, tuple(furniture), angle)


def _furniture_key(seg: Segment) -> str:
    return re.sub(r"\d+", "#", " ".join(seg.text.lower().split()))


def repeated_furniture(layouts: list[PageLayout]) -> set[str]:
    """Margin lines that recur on two or more pages (running headers and footers, digits ignored)."""
    seen: dict[str, int] = {}
    for lay in layouts:
        for key in {_furniture_key(s) for s in lay.furniture}:
            seen[key] = seen.get(key, 0) + 1
    return {k for k, n in seen.items() if n >= 2}


def _continues(prev: Segment, seg: Segment, left: int, width: int) -> bool:
    """A wrapped line: the one above runs across the page and this one starts at the block's left edge, not
    indented as a paragraph's (or a list item's) first line is."""
    rules = ocr_rules()
    return (prev.right - prev.left >= rules["wrapped_line_width"] * width
            and seg.left - left <= rules["indent"] * width)


def page_text(layout: PageLayout, page: int, offset: int, drop: set[str]) -> tuple[str, list[OcrWord]]:
    """The page's text (wrapped lines joined by spaces, other lines by newlines, blocks by blank lines) and its
    words with offsets.

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
    for b, block in enumerate(blocks):
        if b:
            parts.append("\n\n")
            pos += 2
        left = min(s.left for s in block)
        for n, seg in enumerate(block):
            if n:
                parts.append(" " if _continues(block[n - 1], seg, left, layout.width) else "\n")
                pos += 1
            for k, w in enumerate(seg.words):
                if k:
                    parts.append(" ")
                    pos += 1
                words.append(OcrWord(w.text, pos, pos + len(w.text), page, layout.box(w), round(w.confidence, 1)))
                parts.append(w.text)
                pos += len(w.text)
    return "".join(parts), words

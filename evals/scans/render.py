"""A document's lines → A4 page images in the official layout (Nghị định 30/2020): two-column header,
centred title, body, Nơi nhận beside the signature block with a red stamp, page numbers from page 2."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont

A4_MM = (210, 297)
SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"  # Liberation here lacks the Vietnamese letters (ệ, ở…)
SERIF_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"
SERIF_ITALIC = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf"


@dataclass(frozen=True)
class ScanDocument:
    """What a page shows, by region; `reference()` is the text in the reading order OCR should give."""

    header_left: tuple[str, ...]  # cơ quan chủ quản, cơ quan ban hành
    header_right: tuple[str, ...]  # Quốc hiệu, Tiêu ngữ
    number: str  # "Số: 12/SNV-TCBC"
    date: str  # "Hà Nội, ngày 15 tháng 3 năm 2024" ("" for laws, dated at the end)
    subject_left: tuple[str, ...] = ()  # "V/v …" under the number (công văn)
    title: tuple[str, ...] = ()  # centred title lines (LUẬT / name)
    body: tuple[str, ...] = ()  # paragraphs
    cc: tuple[str, ...] = ()  # Nơi nhận block (left)
    signature: tuple[str, ...] = ()  # signer's title lines (right)
    signer: str = ""

    def reference(self) -> str:
        """The source text in reading order, blocks separated by blank lines."""
        blocks = [self.header_left, self.header_right, (self.number,), (self.date,) if self.date else (),
                  self.subject_left, self.title, *((p,) for p in self.body), self.cc, self.signature,
                  (self.signer,) if self.signer else ()]
        return "\n\n".join("\n".join(b) for b in blocks if b)


def _font(path: str, pt: float, dpi: int) -> Any:
    return ImageFont.truetype(path, round(pt * dpi / 72))


def _wrap(draw: Any, text: str, font: Any, width: float) -> list[str]:
    lines: list[str] = []
    cur = ""
    for word in text.split():
        trial = f"{cur} {word}".strip()
        if cur and draw.textlength(trial, font=font) > width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines


class _Pages:
    """A cursor over A4 pages at a resolution."""

    def __init__(self, dpi: int, *, page_numbers: bool = True) -> None:
        self.dpi = dpi
        self.mm = dpi / 25.4
        self.size = (round(A4_MM[0] * self.mm), round(A4_MM[1] * self.mm))
        self.left, self.right = 30 * self.mm, self.size[0] - 18 * self.mm
        self.top, self.bottom = 20 * self.mm, self.size[1] - 20 * self.mm
        self.pages: list[Image.Image] = []
        self.page_numbers = page_numbers
        self.font = _font(SERIF, 12, dpi)
        self.bold = _font(SERIF_BOLD, 12, dpi)
        self.line = 12 * dpi / 72 * 1.45
        self.new_page()

    def new_page(self) -> None:
        self.pages.append(Image.new("RGB", self.size, "white"))
        self.draw = ImageDraw.Draw(self.pages[-1])
        self.y = self.top
        if self.page_numbers and len(self.pages) > 1:  # page numbers top centre, from page 2 (Nghị định 30)
            n = str(len(self.pages))
            w = self.draw.textlength(n, font=self.font)
            self.draw.text(((self.size[0] - w) / 2, 8 * self.mm), n, font=self.font, fill="black")
            self.y = self.top + self.line

    def need(self, height: float) -> None:
        if self.y + height > self.bottom:
            self.new_page()

    def centred(self, text: str, font: Any, x0: float, x1: float, y: float) -> None:
        w = self.draw.textlength(text, font=font)
        self.draw.text((x0 + (x1 - x0 - w) / 2, y), text, font=font, fill="black")

    def rule(self, x0: float, x1: float, y: float, width: float) -> None:
        mid = (x0 + x1) / 2
        self.draw.line([(mid - width / 2, y), (mid + width / 2, y)], fill="black", width=max(1, self.dpi // 100))


def _stamp(img: Image.Image, centre: tuple[float, float], radius: float, dpi: int, rng: random.Random) -> None:
    """A red circular seal (rings, a star, text) over the signature; ink multiplies, so print under it stays black."""
    from PIL import ImageChops

    layer = Image.new("RGB", img.size, "white")
    d = ImageDraw.Draw(layer)
    red = (215, 35, 45)
    cx, cy = centre
    w = max(2, dpi // 50)
    for r in (radius, radius * 0.93, radius * 0.6):
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=red, width=w)
    font = _font(SERIF_BOLD, 9, dpi)
    d.text((cx - radius * 0.45, cy - radius * 0.15), "SỞ NỘI VỤ", font=font, fill=red)
    d.regular_polygon((cx, cy - radius * 0.35, radius * 0.12), 5, fill=red)
    img.paste(ImageChops.multiply(img, layer))
    _ = rng


def _signature(draw: Any, x: float, y: float, width: float, dpi: int, rng: random.Random) -> None:
    """A blue scribble where the signer signs."""
    pts = [(x + width * t / 40, y + rng.uniform(-1, 1) * dpi * 0.08) for t in range(41)]
    draw.line(pts, fill=(20, 40, 160), width=max(2, dpi // 60), joint="curve")


def render_pages(doc: ScanDocument, *, dpi: int = 300, seed: int = 0) -> list[Image.Image]:
    """The document on A4 pages at `dpi`, in the official layout."""
    rng = random.Random(seed)
    p = _Pages(dpi)
    mid = p.left + (p.right - p.left) * 0.42
    y = p.y
    for col, x0, x1 in ((doc.header_left, p.left - 10 * p.mm, mid), (doc.header_right, mid + 4 * p.mm, p.right)):
        yy = y
        for i, line in enumerate(col):
            p.centred(line, p.bold if i or col is doc.header_right else p.font, x0, x1, yy)
            yy += p.line
        p.rule(x0, x1, yy + p.line * 0.05, (x1 - x0) * 0.35)
    y += p.line * (max(len(doc.header_left), len(doc.header_right)) + 0.9)
    p.centred(doc.number, p.font, p.left - 10 * p.mm, mid, y)
    if doc.date:
        p.draw.text((mid + 12 * p.mm, y), doc.date, font=_font(SERIF_ITALIC, 12, dpi), fill="black")
    y += p.line * 1.6
    small = _font(SERIF, 11, dpi)
    for line in doc.subject_left:
        for part in _wrap(p.draw, line, small, mid - p.left):
            p.centred(part, small, p.left - 10 * p.mm, mid, y)
            y += p.line * 0.9
    p.y = y + p.line * (0.8 if doc.subject_left else 0)
    for line in doc.title:
        p.centred(line, p.bold, p.left, p.right, p.y)
        p.y += p.line
    p.y += p.line * 0.6 if doc.title else 0
    for para in doc.body:
        lines = _wrap(p.draw, para, p.font, p.right - p.left - 12 * p.mm)
        for i, line in enumerate(lines):
            p.need(p.line)
            p.draw.text((p.left + (12 * p.mm if i == 0 else 0), p.y), line, font=p.font, fill="black")
            p.y += p.line
        p.y += p.line * 0.35
    if doc.cc or doc.signature:
        block = p.line * (max(len(doc.cc), len(doc.signature) + 5) + 1)
        p.need(block)
        y = p.y + p.line * 0.5
        cc_font = _font(SERIF, 10, dpi)
        for i, line in enumerate(doc.cc):
            p.draw.text((p.left, y + i * p.line * 0.85), line, font=p.bold if i == 0 else cc_font, fill="black")
        sx0 = mid + 8 * p.mm
        for i, line in enumerate(doc.signature):
            p.centred(line, p.bold, sx0, p.right, y + i * p.line)
        sig_y = y + (len(doc.signature) + 1.6) * p.line
        _signature(p.draw, sx0 + (p.right - sx0) * 0.3, sig_y, (p.right - sx0) * 0.4, dpi, rng)
        name_y = y + (len(doc.signature) + 3.5) * p.line
        if doc.signer:
            p.centred(doc.signer, p.bold, sx0, p.right, name_y)
        _stamp(p.pages[-1], (sx0 + (p.right - sx0) * 0.3, sig_y), 17 * p.mm, dpi, rng)
    return p.pages

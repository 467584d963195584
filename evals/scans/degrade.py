"""Page images degraded the way scanners and phones do: skew, blur, noise, JPEG, a photo's perspective."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Degradation:
    """One level of damage; `clean` is none at all."""

    name: str
    rotate_deg: float = 0.0  # the most a page is turned (a random angle in ±this)
    blur: float = 0.0  # Gaussian radius in pixels at 300 dpi
    noise: float = 0.0  # standard deviation of grey noise, out of 255
    jpeg_quality: int | None = None
    perspective: float = 0.0  # how far a corner moves, as a share of the page (a phone held at an angle)
    dpi: int = 300


LEVELS = {
    "clean": Degradation("clean"),
    "clean-200": Degradation("clean-200", dpi=200),
    "scan": Degradation("scan", rotate_deg=2.0, blur=0.8, noise=10.0, jpeg_quality=60),
    "photo": Degradation("photo", rotate_deg=1.0, blur=1.0, noise=6.0, jpeg_quality=70, perspective=0.035),
}


def _perspective(img: Image.Image, amount: float, rng: random.Random) -> Image.Image:
    """Warp as a page photographed from a little to one side: the top edge shorter than the bottom."""
    w, h = img.size
    dx, dy = amount * w, amount * h * 0.3
    # Where each output corner samples the input (PIL's quad transform: ul, ll, lr, ur).
    quad = (-dx * rng.uniform(0.6, 1.0), -dy, -dx * 0.1, h + dy * 0.2, w + dx * 0.1, h + dy * 0.2,
            w + dx * rng.uniform(0.6, 1.0), -dy)
    return img.transform(img.size, Image.Transform.QUAD, quad, Image.Resampling.BICUBIC, fillcolor="white")


def degrade(img: Image.Image, level: Degradation, seed: int = 0) -> Image.Image:
    """A damaged copy of a clean page image (RGB in, RGB out)."""
    rng = random.Random(seed)
    out = img
    if level.perspective:
        out = _perspective(out, level.perspective, rng)
    if level.rotate_deg:
        angle = rng.uniform(0.5, 1.0) * level.rotate_deg * rng.choice((-1, 1))
        out = out.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor="white")
    if level.blur:
        out = out.filter(ImageFilter.GaussianBlur(level.blur * level.dpi / 300))
    if level.noise:
        arr = np.asarray(out, dtype=np.float32)
        noise = np.random.default_rng(seed).normal(0, level.noise, arr.shape[:2])[..., None]
        out = Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8))
    if level.jpeg_quality:
        buf = io.BytesIO()
        out.save(buf, "JPEG", quality=level.jpeg_quality)
        out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return out


def to_pdf(pages: list[Image.Image], dpi: int) -> bytes:
    """An image-only PDF: each page one JPEG, as scanners write them."""
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:], resolution=dpi, quality=85)
    return buf.getvalue()


def to_tiff(pages: list[Image.Image], dpi: int) -> bytes:
    """A multi-page TIFF (LZW), as office scanners write them."""
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:], dpi=(dpi, dpi), compression="tiff_lzw")
    return buf.getvalue()


def to_bytes(img: Image.Image, fmt: str, dpi: int = 300) -> bytes:
    """One page as PNG or JPEG bytes."""
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"quality": 85} if fmt == "JPEG" else {}
    img.save(buf, fmt, dpi=(dpi, dpi), **kwargs)
    return buf.getvalue()

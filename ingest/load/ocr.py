"""Page images → words: colour ink whitened, then Tesseract's Vietnamese model through pytesseract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.load.layout import PageLayout, RawWord, ocr_rules, page_layout, words_from_table
from ingest.load.limits import LoadError

LANGUAGE = "vie"
# Page segmentation 3: fully automatic, so the header's columns come back as their own blocks; one thread per
# page (OMP_THREAD_LIMIT=1): on two shared cores Tesseract's OpenMP threads only wait for each other.
TESSERACT_CONFIG = "--oem 1 --psm 3"


@dataclass(frozen=True)
class PageRead:
    """What OCR made of one page: its layout (words in pixels) or why it failed."""

    layout: PageLayout | None
    error: str | None = None


def suppress_colour(image: Any) -> Any:
    """RGB image → greyscale with coloured ink (a red stamp, a blue signature) turned white."""
    import numpy as np
    from PIL import Image, ImageFilter

    if image.mode in ("1", "L", "I;16", "I"):
        return image.convert("L")
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    grey = (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114) // 1000
    mask = Image.fromarray(((spread > ocr_rules()["colour_spread"]) * 255).astype(np.uint8))
    # Grown by a pixel: JPEG and blur wash out the edges of a stamp's strokes below the threshold.
    grown = np.asarray(mask.filter(ImageFilter.MaxFilter(3))) > 0
    grey[grown & (rgb.max(axis=2) > ocr_rules()["print_below"])] = 255
    return Image.fromarray(grey.astype(np.uint8), mode="L")


def skew_angle(grey: Any) -> float:
    """The angle (degrees, counter-clockwise) that makes the text lines level: the sharpest row profile."""
    import numpy as np

    rules = ocr_rules()
    small = grey.copy()
    small.thumbnail((800, 800))
    ink = np.asarray(small, dtype=np.uint8) < 128
    from PIL import Image

    mask = Image.fromarray((ink * 255).astype(np.uint8))
    best, best_score = 0.0, -1.0
    steps = int(rules["max_skew"] / rules["skew_step"])
    for k in range(-steps, steps + 1):
        angle = k * rules["skew_step"]
        rows = np.asarray(mask.rotate(angle, resample=Image.Resampling.NEAREST), dtype=np.float32).sum(axis=1)
        score = float(np.square(np.diff(rows)).sum())
        if score > best_score:
            best, best_score = angle, score
    return best


def tesseract_available() -> str | None:
    """None when Tesseract and its Vietnamese model are installed, else what is missing."""
    import pytesseract

    try:
        langs = pytesseract.get_languages(config="")
    except (pytesseract.TesseractNotFoundError, OSError):
        return "the tesseract program is not installed (apt-get install tesseract-ocr tesseract-ocr-vie)"
    if LANGUAGE not in langs:
        return "Tesseract's Vietnamese model is not installed (apt-get install tesseract-ocr-vie)"
    return None


def read_page(image: Any, *, timeout_s: float) -> PageRead:
    """OCR one page image; a timeout or a Tesseract failure is this page's error, not the document's."""
    import os

    import pytesseract

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    grey = suppress_colour(image)
    angle = skew_angle(grey)
    if angle:
        from PIL import Image

        grey = grey.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    try:
        table = pytesseract.image_to_data(grey, lang=LANGUAGE, config=TESSERACT_CONFIG,
                                          output_type=pytesseract.Output.DICT, timeout=timeout_s)
    except pytesseract.TesseractNotFoundError as exc:
        raise LoadError("OCR needs Tesseract: apt-get install tesseract-ocr tesseract-ocr-vie") from exc
    except RuntimeError as exc:  # pytesseract's timeout
        if "timeout" in str(exc).lower():
            return PageRead(None, f"OCR timed out after {timeout_s:g}s (POLICYQA_OCR_PAGE_TIMEOUT_S)")
        return PageRead(None, f"OCR failed ({str(exc)[:120]})")
    except pytesseract.TesseractError as exc:
        return PageRead(None, f"Tesseract failed ({str(exc.message)[:120]})")
    words: list[RawWord] = words_from_table(table)
    return PageRead(page_layout(words, grey.width, grey.height, angle))

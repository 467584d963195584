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
    from PIL import Image

    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    grey = (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114) // 1000
    grey[spread > ocr_rules()["colour_spread"]] = 255
    return Image.fromarray(grey.astype(np.uint8), mode="L")


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
    return PageRead(page_layout(words, grey.width, grey.height))

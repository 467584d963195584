"""The ceilings on one file and the checks that refuse it, cheaply, before any parser runs."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from rag.settings import Settings

# Fixed structural limits (not settings: no real document comes near them).
MAX_ZIP_MEMBERS = 10_000  # Word writes a few dozen parts; hundreds of images still fit
MAX_ZIP_DIRECTORY_BYTES = 4 * 1024 * 1024  # zipfile builds an object per entry on open: check the size first
MAX_ZIP_RATIO = 500  # deflate tops out near 1,030:1; Word XML (even an empty 20,000-cell table) stays under 200:1
ZIP_RATIO_MIN_BYTES = 4 * 1024 * 1024  # small members may compress as well as they like
MAX_FRONT_MATTER_CHARS = 64 * 1024
PARSER_MEMORY_BYTES = 4 * 1024 * 1024 * 1024  # address space of one parser process


class LoadError(ValueError):
    """A file that cannot be turned into text; the message says why, for the ingest report."""


@dataclass(frozen=True)
class LoadLimits:
    """Ceilings on one file, checked before the expensive work; each refusal names its setting."""

    max_file_bytes: int
    max_unzipped_bytes: int
    max_pdf_pages: int
    max_text_chars: int
    ocr_max_pages: int = 100
    ocr_page_timeout_s: float = 60.0
    ocr_dpi: int = 300
    max_image_pixels: int = 60_000_000
    ocr_min_confidence: float = 70.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadLimits:
        return cls(max_file_bytes=settings.max_file_bytes, max_unzipped_bytes=settings.max_unzipped_bytes,
                   max_pdf_pages=settings.max_pdf_pages, max_text_chars=settings.max_text_chars,
                   ocr_max_pages=settings.ocr_max_pages, ocr_page_timeout_s=settings.ocr_page_timeout_s,
                   ocr_dpi=settings.ocr_dpi, max_image_pixels=settings.max_image_pixels,
                   ocr_min_confidence=settings.ocr_min_confidence)


@lru_cache(maxsize=1)
def default_limits() -> LoadLimits:
    """The settings' defaults (the environment is not read: callers holding settings pass their own)."""
    return LoadLimits.from_settings(Settings.model_construct())


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _printable(message: str, limit: int = 120) -> str:
    # Parser messages can quote the hostile bytes; keep the report one readable line.
    return "".join(ch if ch.isprintable() else " " for ch in message[:limit])


def _check_file_size(n: int, limits: LoadLimits) -> None:
    if n > limits.max_file_bytes:
        raise LoadError(f"file is {_size(n)}; the limit is {_size(limits.max_file_bytes)} (POLICYQA_MAX_FILE_BYTES)")


def _check_chars(n: int, what: str, limits: LoadLimits) -> None:
    if n > limits.max_text_chars:
        raise LoadError(f"{what} is {n:,} characters; the limit is {limits.max_text_chars:,} "
                        "(POLICYQA_MAX_TEXT_CHARS)")


def _check_pages(n: int, limits: LoadLimits) -> None:
    if n > limits.max_pdf_pages:
        raise LoadError(f"PDF has {n:,} pages; the limit is {limits.max_pdf_pages:,} (POLICYQA_MAX_PDF_PAGES)")


def _check_ocr_pages(n: int, limits: LoadLimits) -> None:
    if n > limits.ocr_max_pages:
        raise LoadError(f"{n:,} pages need OCR; the limit is {limits.ocr_max_pages:,} (POLICYQA_OCR_MAX_PAGES)")


def _check_pixels(width: int, height: int, what: str, limits: LoadLimits) -> None:
    if width * height > limits.max_image_pixels:
        raise LoadError(f"{what} is {width:,} × {height:,} pixels; the limit is {limits.max_image_pixels:,} "
                        "pixels (POLICYQA_MAX_IMAGE_PIXELS)")


def _check_zip_directory(data: bytes) -> None:
    # Read the end record ourselves: zipfile parses every central-directory entry before we could count them.
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return  # no end record: zipfile reports the corrupt container
    members, size, offset = struct.unpack_from("<HII", data, end + 10)
    if members == 0xFFFF or size == 0xFFFFFFFF or offset == 0xFFFFFFFF:
        raise LoadError("ZIP64 container (over 65,535 members or 4 GiB); a Word document never needs one")
    if size > MAX_ZIP_DIRECTORY_BYTES:
        raise LoadError(f"ZIP directory is {_size(size)}; over {_size(MAX_ZIP_DIRECTORY_BYTES)} means far more "
                        "members than a Word document has")

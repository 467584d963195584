"""What a file is and how its text reads: format detection by content, text decoding, YAML front matter."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import yaml

from ingest.load.limits import MAX_FRONT_MATTER_CHARS, LoadError, _check_zip_directory

SUPPORTED_SUFFIXES = {".md": "md", ".markdown": "md", ".txt": "txt", ".docx": "docx", ".pdf": "pdf",
                      ".html": "html", ".htm": "html", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg",
                      ".tif": "tiff", ".tiff": "tiff"}
# Image signatures: scans and phone photos, read by OCR.
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"II*\x00", "tiff"),
                (b"MM\x00*", "tiff"))


def sniff_format(data: bytes, name: str = "") -> str:
    """Detect the format from the bytes themselves; the name only separates Markdown from plain text."""
    head = data[:2048]
    if head.startswith(b"%PDF-"):
        return "pdf"
    for magic, fmt in _IMAGE_MAGIC:
        if head.startswith(magic):
            return fmt
    if head.startswith(b"PK\x03\x04"):
        _check_zip_directory(data)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if "word/document.xml" in zf.namelist():
                    return "docx"
        except Exception as exc:  # zipfile raises BadZipFile, but also ValueError, OSError… on garbage
            raise LoadError("corrupt ZIP container (not a readable DOCX)") from exc
        raise LoadError("ZIP archive that is not a Word document (DOCX)")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise LoadError("legacy binary Word/Excel file (.doc/.xls) is not supported; save it as DOCX")
    if b"\x00" in head:
        raise LoadError("binary file of an unsupported type")
    try:
        text_head = head.decode("utf-8", errors="strict") if len(data) <= 2048 else data[:2048].decode(
            "utf-8", errors="ignore")
    except UnicodeDecodeError as exc:
        raise LoadError("not UTF-8 text") from exc
    lowered = text_head.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html")) or ("<body" in lowered and "</" in lowered):
        return "html"
    suffix = Path(name).suffix.lower()
    return "md" if SUPPORTED_SUFFIXES.get(suffix) == "md" else "txt"


def _decode_text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError("text file is neither valid UTF-8 nor valid UTF-16") from exc
    raise LoadError("text file is not valid UTF-8")


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Strip a leading YAML front-matter block; return its scalar values as strings."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end < 0:
        return {}, text
    block, rest = text[4:end], text[end + 4:]
    rest = rest[1:] if rest.startswith("\n") else rest
    if len(block) > MAX_FRONT_MATTER_CHARS:
        raise LoadError(f"YAML front matter is {len(block):,} characters; the limit is {MAX_FRONT_MATTER_CHARS:,}")
    try:
        data = yaml.safe_load(block) or {}
    except Exception as exc:  # YAMLError, but also ValueError for a date such as 2024-13-45, RecursionError…
        raise LoadError(f"invalid YAML front matter: {exc.__class__.__name__}") from exc
    if not isinstance(data, dict):
        return {}, text
    meta = {str(k): ("" if v is None else str(v)) for k, v in data.items() if not isinstance(v, dict | list)}
    return meta, rest

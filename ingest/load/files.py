"""Files in, SourceDocuments out: the checked order of one load, reading from disk, and folder discovery."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from ingest.load.extract import _plain_text
from ingest.load.limits import LoadError, LoadLimits, _check_chars, _check_file_size, default_limits
from ingest.load.pages import Extracted, Progress
from ingest.load.sandbox import _run_bounded
from ingest.load.sniff import SUPPORTED_SUFFIXES, sniff_format
from rag.records import SourceDocument


def load_bytes(data: bytes, name: str, *, timeout_s: float = 60.0, limits: LoadLimits | None = None,
               progress: Progress | None = None) -> SourceDocument:
    """Turn the raw bytes of one file into a SourceDocument or raise LoadError with a clear reason.

    `progress(done, total)` hears of each OCR page as it is read."""
    limits = limits or default_limits()
    _check_file_size(len(data), limits)
    if not data or data.isspace():
        raise LoadError("empty file")
    fmt = sniff_format(data, name)
    front: dict[str, str] = {}
    if fmt in ("md", "txt"):
        front, text = _plain_text(data, fmt, limits)
        out = Extracted(text)
    else:
        if fmt == "html":
            _check_chars(len(data.decode("utf-8", errors="replace")), "the HTML (markup included)", limits)
        out = _run_bounded(fmt, data, limits, timeout_s, progress)
        text = out.text
        _check_chars(len(text), f"the text extracted from the {fmt.upper()}", limits)
    if not text.strip():
        raise LoadError("no text in file")
    return SourceDocument(path=name, format=fmt,  # type: ignore[arg-type]
                          text=text, sha256=hashlib.sha256(data).hexdigest(), front_matter=front,
                          pages=out.pages, warnings=out.warnings)


def load_file(path: Path, *, timeout_s: float = 60.0, limits: LoadLimits | None = None,
              progress: Progress | None = None) -> SourceDocument:
    """Read and load one file from disk (its size is checked before it is read)."""
    limits = limits or default_limits()
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file")  # a device or FIFO would never end
        _check_file_size(info.st_size, limits)
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror}") from exc
    return load_bytes(data, str(path), timeout_s=timeout_s, limits=limits, progress=progress)


def discover(paths: list[Path]) -> list[tuple[Path, Path]]:
    """Expand folders into (root, file) pairs of supported files, sorted; a file is its own root's child."""
    found: list[tuple[Path, Path]] = []
    for p in paths:
        p = p.resolve()
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES and not any(
                        part.startswith(".") for part in f.relative_to(p).parts):
                    found.append((p, f))
        else:
            found.append((p.parent, p))
    return found

"""Bytes → SourceDocument: Markdown, TXT, DOCX, PDF and HTML, detected by content, time-bounded."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import yaml

from rag.types import SourceDocument

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".md": "md", ".markdown": "md", ".txt": "txt", ".docx": "docx", ".pdf": "pdf",
                      ".html": "html", ".htm": "html"}


class LoadError(ValueError):
    """A file that cannot be turned into text; the message says why, for the ingest report."""


def sniff_format(data: bytes, name: str = "") -> str:
    """Detect the format from the bytes themselves; the name only separates Markdown from plain text."""
    head = data[:2048]
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if "word/document.xml" in zf.namelist():
                    return "docx"
        except zipfile.BadZipFile as exc:
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
    for enc in ("utf-16",):
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return data.decode(enc)
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
    try:
        data = yaml.safe_load(block) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"invalid YAML front matter: {exc.__class__.__name__}") from exc
    if not isinstance(data, dict):
        return {}, text
    meta = {str(k): ("" if v is None else str(v)) for k, v in data.items() if not isinstance(v, dict | list)}
    return meta, rest


def _docx_text(data: bytes) -> str:
    import docx  # python-docx

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    body = document.element.body
    # Walk paragraphs and tables in document order so table text is not lost.
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append("".join(node.text or "" for node in child.iter() if node.tag.endswith("}t")))
        elif tag == "tbl":
            for row in child.iter():
                if row.tag.endswith("}tr"):
                    cells = []
                    for cell in row:
                        if cell.tag.endswith("}tc"):
                            cells.append(" ".join(
                                "".join(n.text or "" for n in p.iter() if n.tag.endswith("}t"))
                                for p in cell if p.tag.endswith("}p")).strip())
                    lines.append("\n".join(c for c in cells if c))
    return "\n\n".join(line for line in lines)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise LoadError("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LoadError(f"corrupt PDF ({exc.__class__.__name__}: {str(exc)[:120]})") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise LoadError("PDF has no extractable text (scanned image? OCR is not supported)")
    return text


def _html_text(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "head"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    blocks = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "pre", "blockquote"]):
        if el.find(["p", "li", "td", "h1", "h2", "h3", "h4", "h5", "h6"]):
            continue  # a container: its children are emitted on their own
        txt = el.get_text(" ", strip=True)
        if txt:
            blocks.append(("- " if el.name == "li" else "") + txt)
    if not blocks:
        blocks = [soup.get_text("\n", strip=True)]
    return "\n\n".join(blocks)


_EXTRACTORS: dict[str, Callable[[bytes], str]] = {"docx": _docx_text, "pdf": _pdf_text, "html": _html_text}


def _run_bounded(fn: Callable[[bytes], str], data: bytes, timeout_s: float) -> str:
    # A corrupt file must never hang ingestion (a known failure of other systems): bound every parser.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(fn, data).result(timeout=timeout_s)
    except FutureTimeout as exc:
        raise LoadError(f"parser timed out after {timeout_s:.0f}s") from exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def load_bytes(data: bytes, name: str, *, timeout_s: float = 60.0) -> SourceDocument:
    """Turn the raw bytes of one file into a SourceDocument or raise LoadError with a clear reason."""
    if not data.strip():
        raise LoadError("empty file")
    fmt = sniff_format(data, name)
    front: dict[str, str] = {}
    if fmt in ("md", "txt"):
        text = _decode_text(data)
        if fmt == "md":
            front, text = split_front_matter(text)
    else:
        try:
            text = _run_bounded(_EXTRACTORS[fmt], data, timeout_s)
        except LoadError:
            raise
        except Exception as exc:  # third-party parsers raise anything on corrupt input
            raise LoadError(f"cannot read {fmt.upper()} ({exc.__class__.__name__}: {str(exc)[:120]})") from exc
    if not text.strip():
        raise LoadError("no text in file")
    return SourceDocument(path=name, format=fmt,  # type: ignore[arg-type]
                          text=text, sha256=hashlib.sha256(data).hexdigest(), front_matter=front)


def load_file(path: Path, *, timeout_s: float = 60.0) -> SourceDocument:
    """Read and load one file from disk."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror}") from exc
    return load_bytes(data, str(path), timeout_s=timeout_s)


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

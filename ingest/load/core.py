"""Bytes → SourceDocument: Markdown, TXT, DOCX, PDF and HTML, detected by content, size- and time-bounded."""

from __future__ import annotations

import hashlib
import io
import logging
import multiprocessing
import stat
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rag.records import SourceDocument

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".md": "md", ".markdown": "md", ".txt": "txt", ".docx": "docx", ".pdf": "pdf",
                      ".html": "html", ".htm": "html"}

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

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadLimits:
        return cls(max_file_bytes=settings.max_file_bytes, max_unzipped_bytes=settings.max_unzipped_bytes,
                   max_pdf_pages=settings.max_pdf_pages, max_text_chars=settings.max_text_chars)


@lru_cache(maxsize=1)
def default_limits() -> LoadLimits:
    """The settings' defaults (the environment is not read: callers holding settings pass their own)."""
    from rag.settings import Settings

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


def sniff_format(data: bytes, name: str = "") -> str:
    """Detect the format from the bytes themselves; the name only separates Markdown from plain text."""
    head = data[:2048]
    if head.startswith(b"%PDF-"):
        return "pdf"
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


def check_docx_container(data: bytes, limits: LoadLimits) -> None:
    """Refuse ZIP bombs by the sizes the ZIP declares, before python-docx inflates anything."""
    # zipfile never inflates past a member's declared size (it fails the CRC instead), so the sums are honest.
    # Entity attacks need no check here: python-docx parses with resolve_entities=False and libxml2 refuses
    # exponential expansion ("Maximum entity amplification factor exceeded").
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = zf.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise LoadError(f"DOCX has {len(members):,} ZIP members; the limit is {MAX_ZIP_MEMBERS:,}")
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise LoadError(f"DOCX unpacks to {_size(total)}; the limit is {_size(limits.max_unzipped_bytes)} "
                        "(POLICYQA_MAX_UNZIPPED_BYTES)")
    for m in members:
        if m.file_size > ZIP_RATIO_MIN_BYTES and m.file_size > MAX_ZIP_RATIO * max(m.compress_size, 1):
            ratio = m.file_size / max(m.compress_size, 1)
            raise LoadError(f"DOCX member {_printable(m.filename, 80)!r} expands {ratio:,.0f} times "
                            f"({_size(m.compress_size)} to {_size(m.file_size)}); over {MAX_ZIP_RATIO} times "
                            "is refused as a ZIP bomb")


def _local(node: Any) -> str:
    # Comments, processing instructions and entity references have a function as their tag.
    tag = node.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text_of(el: Any) -> str:
    return "".join(node.text or "" for node in el.iter() if _local(node) == "t")


def _docx_text(data: bytes, limits: LoadLimits) -> str:
    check_docx_container(data, limits)
    import docx  # python-docx

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    # Walk paragraphs and tables in document order so table text is not lost.
    for child in document.element.body.iterchildren():
        tag = _local(child)
        if tag == "p":
            lines.append(_text_of(child))
        elif tag == "tbl":
            for row in child.iter():
                if _local(row) == "tr":
                    cells = [" ".join(_text_of(p) for p in cell if _local(p) == "p").strip()
                             for cell in row if _local(cell) == "tc"]
                    lines.append("\n".join(c for c in cells if c))
    return "\n\n".join(lines)


def _check_pages(n: int, limits: LoadLimits) -> None:
    if n > limits.max_pdf_pages:
        raise LoadError(f"PDF has {n:,} pages; the limit is {limits.max_pdf_pages:,} (POLICYQA_MAX_PDF_PAGES)")


def _declared_pages(reader: Any) -> int:
    try:
        return int(reader.trailer["/Root"]["/Pages"]["/Count"])
    except Exception:  # no usable count in the page tree: the pages are counted as they are walked instead
        return 0


def _pdf_text(data: bytes, limits: LoadLimits) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise LoadError("encrypted PDF")
        _check_pages(_declared_pages(reader), limits)  # the page tree's own count: refuses before walking it
        _check_pages(len(reader.pages), limits)  # the walk, in case the count lied
        pages: list[str] = []
        total = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            total += len(pages[-1]) + 2
            _check_chars(total, "text extracted from the PDF", limits)
    except LoadError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise LoadError(f"corrupt PDF ({exc.__class__.__name__}: {_printable(str(exc))})") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise LoadError("PDF has no extractable text (scanned image? OCR is not supported)")
    return text


def _html_text(data: bytes, limits: LoadLimits) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    # Only what a reader sees: no code, no embedded frames or objects (comments are skipped by get_text).
    for tag in soup(["script", "style", "noscript", "head", "template", "iframe", "object", "embed"]):
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


_EXTRACTORS: dict[str, Callable[[bytes, LoadLimits], str]] = {
    "docx": _docx_text, "pdf": _pdf_text, "html": _html_text}


def _cap_memory(limit: int) -> None:
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    except (ImportError, ValueError, OSError):
        pass  # no such limit on this platform: the time limit still holds


def _parse_in_child(conn: Connection, fmt: str, data: bytes, limits: LoadLimits) -> None:
    """Body of the parser process: send ("ok", text) or ("refused", reason)."""
    _cap_memory(PARSER_MEMORY_BYTES)
    outcome: tuple[str, str]
    try:
        outcome = ("ok", _EXTRACTORS[fmt](data, limits))
    except LoadError as exc:
        outcome = ("refused", str(exc))
    except MemoryError:
        outcome = ("refused", f"{fmt.upper()} parser ran out of memory ({_size(PARSER_MEMORY_BYTES)} per file)")
    except Exception as exc:  # third-party parsers raise anything on corrupt input
        outcome = ("refused", f"cannot read {fmt.upper()} ({exc.__class__.__name__}: {_printable(str(exc))})")
    conn.send(outcome)
    conn.close()


@lru_cache(maxsize=1)
def _parser_context() -> BaseContext:
    # forkserver: each parser forks (~15 ms) from a small, clean server process, never from this one, which may
    # hold threads and a loaded model. multiprocessing re-runs the main script in every child (imports only,
    # behind its `if __name__ == "__main__":`); preloading the main script or module imports what it imports once,
    # in the server, so that is free for each child of the `policyqa` command (or whatever program is running).
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)  # set under `python -m package`
    main_module = [main_spec.name] if main_spec is not None and main_spec.name != "__main__" else []
    ctx.set_forkserver_preload(["__main__", *main_module, "ingest.load.core", "pypdf", "docx", "bs4"])
    return ctx


def _run_bounded(fmt: str, data: bytes, limits: LoadLimits, timeout_s: float) -> str:
    # A parser on hostile input can loop or balloon within every size limit (a 15 kB PDF whose page inflates
    # to 75 MB of operators keeps pypdf busy ~75 s a page). A thread cannot be stopped, so each parse runs in
    # a child process that is killed at the deadline and capped in memory; a crash there is only a refusal.
    ctx = _parser_context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_parse_in_child, args=(sender, fmt, data, limits), daemon=True,  # type: ignore[attr-defined]
                       name=f"policyqa-parse-{fmt}")
    try:
        proc.start()
    except Exception as exc:  # no forkserver, a daemonic caller, a child that died while reading its input
        receiver.close()
        sender.close()
        raise LoadError(f"could not start the {fmt.upper()} parser process ({exc.__class__.__name__}: "
                        f"{_printable(str(exc))})") from exc
    try:
        sender.close()
        if not receiver.poll(timeout_s):
            raise LoadError(f"{fmt.upper()} parser timed out after {timeout_s:g}s (POLICYQA_PARSE_TIMEOUT_S)")
        try:
            status, payload = receiver.recv()
        except EOFError:
            proc.join(timeout=5)
            log.warning("%s parser process ended without an answer (exit code %s); a script that loads files "
                        "must keep its top-level code under `if __name__ == '__main__':`", fmt, proc.exitcode)
            raise LoadError(f"{fmt.upper()} parser crashed (exit code {proc.exitcode})") from None
    finally:
        receiver.close()
        if proc.is_alive():
            proc.kill()
        proc.join()
    if status != "ok":
        raise LoadError(payload)
    return str(payload)


def load_bytes(data: bytes, name: str, *, timeout_s: float = 60.0, limits: LoadLimits | None = None
               ) -> SourceDocument:
    """Turn the raw bytes of one file into a SourceDocument or raise LoadError with a clear reason."""
    limits = limits or default_limits()
    _check_file_size(len(data), limits)
    if not data or data.isspace():
        raise LoadError("empty file")
    fmt = sniff_format(data, name)
    front: dict[str, str] = {}
    if fmt in ("md", "txt"):
        text = _decode_text(data)
        _check_chars(len(text), "the Markdown file" if fmt == "md" else "the text file", limits)
        if fmt == "md":
            front, text = split_front_matter(text)
    else:
        if fmt == "html":
            _check_chars(len(data.decode("utf-8", errors="replace")), "the HTML (markup included)", limits)
        text = _run_bounded(fmt, data, limits, timeout_s)
        _check_chars(len(text), f"the text extracted from the {fmt.upper()}", limits)
    if not text.strip():
        raise LoadError("no text in file")
    return SourceDocument(path=name, format=fmt,  # type: ignore[arg-type]
                          text=text, sha256=hashlib.sha256(data).hexdigest(), front_matter=front)


def load_file(path: Path, *, timeout_s: float = 60.0, limits: LoadLimits | None = None) -> SourceDocument:
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
    return load_bytes(data, str(path), timeout_s=timeout_s, limits=limits)


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

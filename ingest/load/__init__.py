"""Bytes → SourceDocument: Markdown, TXT, DOCX, PDF and HTML, detected by content, size- and time-bounded.

limits: the ceilings and cheap refusals · sniff: format, decoding, front matter · extract: per-format text ·
sandbox: the killable parser process · files: load_bytes, load_file, discover.
"""

from ingest.load.extract import check_docx_container
from ingest.load.files import discover, load_bytes, load_file
from ingest.load.limits import (
    MAX_FRONT_MATTER_CHARS,
    MAX_ZIP_DIRECTORY_BYTES,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_RATIO,
    PARSER_MEMORY_BYTES,
    ZIP_RATIO_MIN_BYTES,
    LoadError,
    LoadLimits,
    default_limits,
)
from ingest.load.sniff import SUPPORTED_SUFFIXES, sniff_format, split_front_matter

__all__ = [
    "MAX_FRONT_MATTER_CHARS",
    "MAX_ZIP_DIRECTORY_BYTES",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_RATIO",
    "PARSER_MEMORY_BYTES",
    "SUPPORTED_SUFFIXES",
    "ZIP_RATIO_MIN_BYTES",
    "LoadError",
    "LoadLimits",
    "check_docx_container",
    "default_limits",
    "discover",
    "load_bytes",
    "load_file",
    "sniff_format",
    "split_front_matter",
]

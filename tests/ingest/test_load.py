"""Loaders: every format yields the Vietnamese text intact; bad files give clear errors."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from ingest.load import LoadError, discover, load_bytes, load_file, sniff_format, split_front_matter
from rag.text.normalize import normalize_text
from tests.documents import DIACRITIC_PROBES, SYNTHETIC_TEXT, make_docx, make_html, make_pdf, write_all


@pytest.mark.parametrize("fmt,maker", [("docx", make_docx), ("pdf", make_pdf), ("html", make_html)])
def test_formats_keep_diacritics(fmt: str, maker) -> None:  # noqa: ANN001
    src = load_bytes(maker(), f"x.{fmt}")
    assert src.format == fmt
    text = normalize_text(src.text, from_pdf=fmt == "pdf")
    for probe in DIACRITIC_PROBES:
        assert probe in text, (fmt, probe, text[:400])


def test_nfd_file_normalises_to_nfc(tmp_path: Path) -> None:
    files = write_all(tmp_path)
    src = load_file(files["nfd"])
    assert src.text != SYNTHETIC_TEXT  # really decomposed on disk
    assert normalize_text(src.text) == normalize_text(SYNTHETIC_TEXT)
    assert unicodedata.is_normalized("NFC", normalize_text(src.text))


def test_corrupt_and_empty_files_are_clear_errors(tmp_path: Path) -> None:
    files = write_all(tmp_path)
    with pytest.raises(LoadError, match="PDF"):
        load_file(files["corrupt"])
    with pytest.raises(LoadError, match="empty"):
        load_file(files["empty"])


def test_type_is_detected_by_content_not_name() -> None:
    assert sniff_format(make_pdf(), "renamed.txt") == "pdf"
    assert sniff_format(make_docx(), "renamed.md") == "docx"
    assert sniff_format(b"# Ti\xc3\xaau \xc4\x91\xe1\xbb\x81", "a.md") == "md"
    with pytest.raises(LoadError, match="unsupported"):
        sniff_format(b"MZ\x90\x00\x03\x00\x00\x00", "virus.txt")
    with pytest.raises(LoadError, match="ZIP"):
        sniff_format(b"PK\x03\x04garbage", "a.docx")


def test_front_matter_is_split() -> None:
    meta, body = split_front_matter("---\ntitle: Công văn\nissued_date:\n---\nNội dung\n")
    assert meta == {"title": "Công văn", "issued_date": ""}
    assert body == "Nội dung\n"
    assert split_front_matter("Không có\n---\n") == ({}, "Không có\n---\n")


def test_discover_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x")
    (tmp_path / "catalog.yaml").write_text("x: 1")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.md").write_text("x")
    found = [f.name for _, f in discover([tmp_path])]
    assert found == ["a.md"]

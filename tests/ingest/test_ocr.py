"""OCR with the real Tesseract on synthetic scans (evals/scans): images, scanned and mixed PDFs, hostile input."""

from __future__ import annotations

import io
import struct
import time
from pathlib import Path

import pytest
from PIL import Image

from evals.scans.cer import score
from evals.scans.degrade import LEVELS, degrade, to_bytes, to_pdf, to_tiff
from evals.scans.render import render_pages
from ingest.load import LoadError, LoadLimits, load_bytes
from ingest.parse.document import parse_document
from rag.settings import Settings
from tests.documents import DIACRITIC_PROBES, SCANNED_DISPATCH, make_pdf

DISPATCH = SCANNED_DISPATCH

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def clean_page() -> Image.Image:
    return render_pages(DISPATCH)[0]


def _limits(**kw: object) -> LoadLimits:
    return LoadLimits.from_settings(Settings.model_construct(**kw))


@pytest.mark.slow
def test_png_scan_reads_the_header_and_keeps_word_boxes(clean_page: Image.Image) -> None:
    src = load_bytes(to_bytes(clean_page, "PNG"), "scan.png")
    assert src.format == "png" and len(src.pages) == 1 and src.pages[0].ocr
    assert score(DISPATCH.reference(), src.text).cer < 0.03
    doc = parse_document(src, "scan")
    for probe in DIACRITIC_PROBES:
        assert probe in doc.text, probe
    assert doc.meta.number == "123/SNV-TCBC" and doc.meta.issued_date == "2024-03-15"
    assert (doc.meta.issuer or "").startswith("Sở Nội vụ tỉnh") and doc.meta.doc_type == "công văn"
    assert doc.meta.pages == 1 and doc.meta.ocr_pages == (1,) and (doc.meta.ocr_confidence or 0) > 85
    assert "SỞ NỘI VỤ" not in doc.text.split("Nơi nhận")[1]  # the stamp's text is not read
    words = doc.pages[0].words
    assert all(doc.text[w.start : w.end] == w.text for w in words if w.text.isalpha() and w.text.islower())


@pytest.mark.slow
def test_degraded_tiff_and_photo_jpeg(clean_page: Image.Image) -> None:
    scanned = degrade(clean_page, LEVELS["scan"], seed=1)
    photo = degrade(clean_page, LEVELS["photo"], seed=2)
    src = load_bytes(to_tiff([scanned, photo], 300), "scan.tiff")
    assert src.format == "tiff" and [p.number for p in src.pages] == [1, 2]
    first = src.pages[0]
    # One short page: a misread date or merged line weighs heavily (the corpus-level CER is `policyqa bench ocr`).
    assert score(DISPATCH.reference(), src.text[first.start : first.end]).cer < 0.2
    jpeg = load_bytes(to_bytes(photo, "JPEG"), "photo.jpg")
    assert jpeg.format == "jpeg" and "Ủy ban nhân dân" in jpeg.text


@pytest.mark.slow
def test_mixed_pdf_ocrs_only_the_pages_without_text(clean_page: Image.Image) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in (make_pdf(), to_pdf([clean_page], 300)):
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    buf = io.BytesIO()
    writer.write(buf)
    src = load_bytes(buf.getvalue(), "mixed.pdf", progress=lambda done, total: seen.append((done, total)))
    assert [(p.number, p.ocr) for p in src.pages] == [(1, False), (2, True)]
    assert seen == [(0, 1), (1, 1)]
    doc = parse_document(src, "mixed")
    assert doc.pages[1].start > doc.pages[0].start and "Nguyễn Văn Ánh" in doc.text[doc.pages[1].start :]


seen: list[tuple[int, int]] = []


def _bomb_tiff(width: int, height: int) -> bytes:
    """A 200-byte TIFF that declares a huge greyscale image."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 9 + 4), (278, 4, 1, height), (279, 4, 1, width * height), (277, 3, 1, 1)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, typ, count, value) for tag, typ, count, value in sorted(entries)) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0" * 64


def test_hostile_images_are_refused_fast_naming_the_setting(tmp_path: Path) -> None:
    big = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(big, "PNG")
    small = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(small, "JPEG")
    many = to_pdf([Image.new("L", (60, 80), 255)] * 500, 72)
    cases = {
        "big.png": (big.getvalue(), "POLICYQA_MAX_IMAGE_PIXELS"),
        "bomb.tiff": (_bomb_tiff(60_000, 60_000), "POLICYQA_MAX_IMAGE_PIXELS"),
        "many.pdf": (many, "POLICYQA_OCR_MAX_PAGES"),
        "cut.jpg": (small.getvalue()[: len(small.getvalue()) // 2], "truncated"),
    }
    for name, (data, expected) in cases.items():
        started = time.perf_counter()
        with pytest.raises(LoadError) as err:
            load_bytes(data, name, limits=_limits())
        assert time.perf_counter() - started < 5, name
        assert expected in str(err.value), (name, str(err.value))


def test_ocr_page_limit_is_a_setting() -> None:
    two = to_tiff([Image.new("L", (100, 100), 255)] * 2, 72)
    with pytest.raises(LoadError, match="2 pages need OCR; the limit is 1 \\(POLICYQA_OCR_MAX_PAGES\\)"):
        load_bytes(two, "two.tiff", limits=_limits(ocr_max_pages=1))

"""OCR's pure steps without Tesseract: reading order, header columns, page furniture, offsets, highlights."""

from __future__ import annotations

from ingest.load.layout import RawWord, is_page_number, page_layout, page_text, repeated_furniture
from ingest.load.ocr import PageRead
from ingest.load.pages import PageSource, assemble
from ingest.load.sniff import sniff_format
from ingest.parse.pages import OffsetMap, map_pages
from rag.answer.locate import locate
from rag.records import Chunk, OcrWord, Page
from rag.text.normalize import normalize_text

W, H = 2480, 3508  # A4 at 300 dpi
LINE = 50


def _line(text: str, left: int, top: int, line_no: int, conf: float = 95.0, gap: int = 14) -> list[RawWord]:
    out, x = [], left
    for word in text.split():
        width = 24 * len(word)
        out.append(RawWord(word, x, top, width, LINE, conf, (1, 1, line_no)))
        x += width + gap
    return out


def _header_words() -> list[RawWord]:
    """Two columns on the same rows, as Tesseract may read them: one line each, a wide gap in between."""
    words: list[RawWord] = []
    rows = [("UBND TỈNH KON TUM", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
            ("SỞ THÔNG TIN VÀ TRUYỀN THÔNG", "Độc lập - Tự do - Hạnh phúc")]
    for n, (left, right) in enumerate(rows):
        words += _line(left, 250, 300 + n * 72, n) + _line(right, 1250, 300 + n * 72, n)
    words += _line("Số: 12/STTTT-TTBCXB", 330, 520, 5) + _line("Kon Tum, ngày 5 tháng 8 năm 2024", 1300, 520, 5)
    words += _line("Kính gửi các cơ quan báo chí tỉnh và các sở ban ngành thuộc tỉnh để biết", 354, 800, 7)
    words += _line("thực hiện.", 354, 872, 8)
    return words


def test_header_columns_are_kept_apart_row_by_row() -> None:
    layout = page_layout(_header_words(), W, H)
    text, _ = page_text(layout, 1, 0, set())
    blocks = text.split("\n\n")
    assert blocks[0] == "UBND TỈNH KON TUM\nSỞ THÔNG TIN VÀ TRUYỀN THÔNG"
    assert blocks[1] == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc"
    assert blocks[2] == "Số: 12/STTTT-TTBCXB"
    assert blocks[3] == "Kon Tum, ngày 5 tháng 8 năm 2024"
    # A short last line of a paragraph is the paragraph's, not a column; wrapped, it joins the line above.
    assert blocks[4].endswith("để biết thực hiện.")


def test_wrapped_lines_join_and_indented_lines_start_anew() -> None:
    words = _line("Trên cơ sở chỉ đạo, định hướng của Trung ương và của tỉnh, Sở Thông", 450, 800, 1)
    words += _line("Tin đề nghị các cơ quan báo chí tỉnh tích cực phối hợp triển khai", 354, 872, 2)
    words += _line("tuyên truyền:", 354, 944, 3)
    words += _line("- Các Sở, ban, ngành thuộc tỉnh;", 450, 1016, 4)
    words += _line("- Ủy ban nhân dân các huyện, thành phố;", 450, 1088, 5)
    text, ocr_words = page_text(page_layout(words, W, H), 1, 0, set())
    # Only a line under a line that ran across the page, starting at the left edge, continues it.
    assert text == ("Trên cơ sở chỉ đạo, định hướng của Trung ương và của tỉnh, Sở Thông Tin đề nghị các cơ quan "
                    "báo chí tỉnh tích cực phối hợp triển khai tuyên truyền:\n- Các Sở, ban, ngành thuộc tỉnh;\n"
                    "- Ủy ban nhân dân các huyện, thành phố;")
    assert all(text[w.start:w.end] == w.text for w in ocr_words)


def test_page_numbers_and_running_headers_are_dropped() -> None:
    assert is_page_number("2") and is_page_number("- 3 -") and is_page_number("Trang 2/5")
    assert not is_page_number("Điều 2") and not is_page_number("2. Phạt tiền")
    pages = []
    for n in (1, 2):
        words = _line(str(n), 1230, 100, 0) + _line("Công văn số 12/STTTT", 1700, 3300, 9)
        words += _line(f"Nội dung trang {n} của công văn", 354, 600, 3)
        pages.append(page_layout(words, W, H))
    drop = repeated_furniture(pages)
    text, _ = page_text(pages[1], 2, 0, drop)
    assert text == "Nội dung trang 2 của công văn"


def test_word_offsets_point_into_the_text() -> None:
    layout = page_layout(_header_words(), W, H)
    text, words = page_text(layout, 1, 100, set())
    for w in words:
        assert text[w.start - 100 : w.end - 100] == w.text
        assert all(0.0 <= v <= 1.0 for v in w.box)


def test_failed_page_is_reported_and_the_rest_kept() -> None:
    good = PageRead(page_layout(_line("Trang có chữ đọc được", 354, 600, 1), W, H))
    out = assemble([PageSource(1, read=good), PageSource(2, read=PageRead(None, "OCR timed out after 1s "
                                                                          "(POLICYQA_OCR_PAGE_TIMEOUT_S)"))],
                   min_confidence=70)
    assert out.text.startswith("Trang có chữ đọc được")
    assert out.pages[1].error and "POLICYQA_OCR_PAGE_TIMEOUT_S" in out.warnings[0]


def test_low_confidence_document_warns() -> None:
    shaky = PageRead(page_layout(_line("chữ mờ khó đọc", 354, 600, 1, conf=41), W, H))
    out = assemble([PageSource(1, read=shaky)], min_confidence=70)
    assert any("low OCR confidence" in w and "POLICYQA_OCR_MIN_CONFIDENCE" in w for w in out.warnings)


def test_dehyphenation_and_offsets_survive_normalisation() -> None:
    raw = "quy định của pháp-\nluật hiện hành\nvà thuỷ lợi"
    norm = normalize_text(raw, from_pdf=True)
    assert norm == "quy định của pháp luật hiện hành và thủy lợi"
    m = OffsetMap(raw, norm)
    start = raw.index("luật")
    assert norm[m.start(start) : m.end(start + 4)] == "luật"
    word = OcrWord("thuỷ", raw.index("thuỷ"), raw.index("thuỷ") + 4, 1, (0.1, 0.1, 0.2, 0.12), 90)
    (page,) = map_pages((Page(1, 0, len(raw), True, 90.0, (word,)),), raw, norm)
    assert norm[page.words[0].start : page.words[0].end] == "thủy"
    assert (page.start, page.end) == (0, len(norm))


def _chunk(words: tuple[OcrWord, ...], text: str) -> Chunk:
    return Chunk(id="c", doc_id="d", ordinal=0, text=text, start=0, end=len(text), breadcrumb="b", kind="paragraph",
                 pages=(1,), page_starts=(0,), words=words)


def test_quote_maps_onto_boxes_only_with_high_confidence() -> None:
    text = "Ủy ban nhân dân các huyện báo cáo"
    words, pos = [], 0
    for w in text.split():
        words.append(OcrWord(w, pos, pos + len(w), 1, (0.1, 0.2, 0.15, 0.22), 92))
        pos += len(w) + 1
    start = text.index("các")
    where = locate(_chunk(tuple(words), text), start, len(text), text[start:])
    assert where.page == 1 and len(where.boxes) == 4 and where.highlight_note is None
    shaky = tuple(OcrWord(w.text, w.start, w.end, 1, w.box, 30) for w in words)
    where = locate(_chunk(shaky, text), start, len(text), text[start:])
    assert where.page == 1 and not where.boxes and "confidence" in (where.highlight_note or "")
    # Without word boxes (a text layer or a text file) there is no note, only the page or nothing.
    assert locate(_chunk((), text), 0, 5, text[:5]).highlight_note is None
    plain = Chunk(id="c", doc_id="d", ordinal=0, text=text, start=0, end=len(text), breadcrumb="b", kind="paragraph")
    assert locate(plain, 0, 5, text[:5]).page is None


def test_images_are_sniffed_from_their_bytes() -> None:
    assert sniff_format(b"\x89PNG\r\n\x1a\n....", "scan.txt") == "png"
    assert sniff_format(b"\xff\xd8\xff\xe0....", "x") == "jpeg"
    assert sniff_format(b"II*\x00....", "x") == "tiff" and sniff_format(b"MM\x00*....", "x") == "tiff"

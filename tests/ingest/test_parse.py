import re
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from ingest.load import load_file as source
from ingest.parse.document import parse_document
from rag.records import ParsedDocument, SourceDocument, Unit
from rag.text.docnumber import find_doc_references, normalize_doc_number, parse_date
from rag.text.normalize import normalize_text

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seed" / "dispatch-STTTT-TTBCXB.md"
CORPUS = ROOT / "corpus" / "dispatch-STTTT-TTBCXB.md"
LAWS = SHARED / "data" / "laws"




@pytest.fixture(scope="module")
def seed() -> ParsedDocument:
    return parse_document(source(SEED), "seed")


@pytest.fixture(scope="module")
def corpus() -> ParsedDocument:
    return parse_document(source(CORPUS), "dispatch")


@pytest.fixture(scope="module")
def law36() -> ParsedDocument:
    return parse_document(source(LAWS / "luat-36-2024-QH15.txt"), "luat-36")


@pytest.fixture(scope="module")
def law35() -> ParsedDocument:
    return parse_document(source(LAWS / "luat-35-2024-QH15.txt"), "luat-35")


def units(doc: ParsedDocument, kind: str) -> list[Unit]:
    return [u for u in doc.units if u.kind == kind]


def unit_at(doc: ParsedDocument, *path: str) -> Unit:
    return next(u for u in doc.units if u.path == path)


# ---- dispatch header -------------------------------------------------------------------------------


def test_seed_metadata_from_the_text_alone(seed: ParsedDocument) -> None:
    m = seed.meta
    assert m.doc_type == "công văn"
    assert m.number == "/STTTT-TTBCXB"
    assert m.issued_date is None  # "ngày tháng năm" is blank
    assert m.place == "Kon Tum"
    assert m.issuer == "Sở Thông tin và Truyền thông tỉnh Kon Tum"
    assert m.parent_issuer == "UBND tỉnh Kon Tum"
    subject = "thông tin, tuyên truyền về quyền con người và thông tin đối ngoại trên địa bàn tỉnh"
    assert m.subject == "V/v " + subject
    assert m.title == "T" + subject[1:]
    assert m.signer == "Mai Thoan"
    assert m.signer_title == "KT. GIÁM ĐỐC / PHÓ GIÁM ĐỐC"


def test_seed_recipients_and_cc(seed: ParsedDocument) -> None:
    assert seed.meta.recipients == (
        "Các Sở, ban, ngành thuộc tỉnh",
        "Ủy ban nhân dân các huyện, thành phố",
        "Các cơ quan báo chí tỉnh",
        "Các cơ quan báo chí thường trú tại địa phương",
        "Cổng thông tin điện tử tỉnh",
    )
    assert seed.meta.cc == (
        "Như trên",
        "Phòng VH-TT các huyện, thành phố",
        "Trung tâm VH-TTDL&TT các huyện, thành phố",
        "Trung tâm CNTT-TT (đăng trang TTĐT)",
        "Lưu: VT, TTBCXB",
    )


def test_front_matter_overrides(corpus: ParsedDocument) -> None:
    assert corpus.meta.signer_title == "KT. Giám đốc – Phó Giám đốc"
    assert corpus.meta.number == "/STTTT-TTBCXB"
    assert corpus.meta.issued_date is None  # blank in the front matter too
    assert len(corpus.meta.recipients) == 5 and len(corpus.meta.cc) == 5


# ---- dispatch structure ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["seed", "corpus"])
def test_dispatch_units(name: str, request: pytest.FixtureRequest) -> None:
    doc: ParsedDocument = request.getfixturevalue(name)
    assert [(u.label, u.title) for u in units(doc, "section")] == [
        ("I", "Tập trung vào các nội dung"),
        ("II", "Tổ chức thực hiện"),
    ]
    items = units(doc, "item")
    assert [u.path for u in items] == [
        ("I", "1)"), ("I", "2)"), ("I", "3)"), ("II", "1."), ("II", "2."), ("II", "3."),
    ]
    assert [u.kind for u in doc.units[:2]] == ["header", "preamble"]
    assert [u.kind for u in doc.units[-4:]] == ["paragraph", "closing", "footnote", "footnote"]
    assert len([u for u in units(doc, "bullet") if u.path[:2] == ("I", "2)")]) == 4
    assert doc.text[unit_at(doc, "I", "•1").start :].startswith("* Tài liệu gửi kèm")
    closing = doc.text[units(doc, "closing")[0].start : units(doc, "closing")[0].end]
    assert closing.startswith("Nơi nhận:") and closing.endswith("Mai Thoan")


def test_seed_and_corpus_read_the_same(seed: ParsedDocument, corpus: ParsedDocument) -> None:
    assert [(u.kind, u.path) for u in seed.units] == [(u.kind, u.path) for u in corpus.units]
    assert seed.text.split() == corpus.text.split()  # only the subject's line breaks differ


def test_markup_is_gone(seed: ParsedDocument) -> None:
    for junk in ("**", "<sup>", "</sup>", "\\*", "](", "## ", "\n---\n"):
        assert junk not in seed.text
    assert "Trang thông tin điện tử www.nhanquyenvn.org và 02 fanpage" in seed.text


def test_words_are_kept(seed: ParsedDocument) -> None:
    raw = SEED.read_text(encoding="utf-8")
    raw = re.sub(r"</?sup>|\]\([^)]*\)", " ", raw)
    words = Counter(re.findall(r"[^\W\d_]+", normalize_text(raw)))
    assert words == Counter(re.findall(r"[^\W\d_]+", seed.text))
    assert "công đồng quốc tế" in seed.text and "Bộ Tư lệnh BDBP" in seed.text  # typos stay


def test_footnotes_are_linked(seed: ParsedDocument) -> None:
    f1, f2 = seed.footnotes
    assert (f1.label, f2.label) == ("1", "2")
    assert f1.text.startswith("Công văn số 08/CV-VPTT ngày 30/7/2024")
    assert f2.text.startswith("Theo mục 4, Điều 7, Thông tư số 03/2019/TT-BTTTT")
    assert seed.text[f1.start : f1.end] == f1.text
    pre = units(seed, "preamble")[0]
    assert f1.cited_at is not None and pre.start <= f1.cited_at < pre.end
    radio = unit_at(seed, "II", "1.", "•1")
    assert seed.text[radio.start :].startswith("- Đài Phát thanh – Truyền hình tỉnh:")
    assert f2.cited_at is not None and radio.start <= f2.cited_at < radio.end
    closing = units(seed, "closing")[0]
    assert f1.start > closing.end and f2.start > closing.end  # moved after the closing


def test_page_breaks_do_not_split_paragraphs(seed: ParsedDocument) -> None:
    item = unit_at(seed, "II", "3.")
    body = seed.text[item.start : item.end]
    assert "tránh đề cập các nước và các tổ chức quốc tế thu tin từ các nguồn không chính thống" in body
    assert "(3) Ban Tuyên giáo, Trung ương Hội Liên hiệp Phụ nữ Việt Nam" in seed.text
    lulu = unit_at(seed, "I", "1)", "•3")
    assert seed.text[lulu.start :].startswith("- Luật Lưu trữ sửa đổi")


def test_references_and_conflicts(seed: ParsedDocument) -> None:
    numbers = [r.number for r in seed.references]
    assert numbers == ["/STTTT-TTBCXB", "08/CV-VPTT", "652/TTĐN-NVĐP", "03/2019/TT-BTTTT"]
    for r in seed.references:
        assert seed.text[r.start : r.end] == r.raw
    assert seed.warnings == (
        "Thông tư 03/2019/TT-BTTTT: số hiệu ghi năm 2019 nhưng ngày ban hành ghi 06/5/2024",
    )


def test_own_number_and_date_conflict() -> None:
    text = (
        "ỦY BAN NHÂN DÂN\nTỈNH KON TUM\n\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n\n"
        "Số: 12/2023/qd-ubnd\n\nKon Tum, ngày 5 tháng 1 năm 2024\n\nQUYẾT ĐỊNH\nVề việc ban hành quy chế\n\n"
        "Căn cứ Luật Tổ chức chính quyền địa phương;\n\nĐiều 1. Ban hành kèm theo Quyết định này.\n\n"
        "Điều 2. Quyết định có hiệu lực từ ngày ký.\n"
    )
    doc = parse_document(SourceDocument("qd.txt", "txt", text, "0"), "qd")
    assert doc.meta.number == "12/2023/QĐ-UBND"
    assert doc.meta.doc_type == "quyết định"
    assert doc.meta.issuer == "Ủy ban nhân dân tỉnh Kon Tum" and doc.meta.parent_issuer is None
    assert doc.meta.issued_date == "2024-01-05"
    assert any("số hiệu ghi năm 2023" in w for w in doc.warnings)
    assert [u.label for u in units(doc, "dieu")] == ["Điều 1", "Điều 2"]
    assert doc.meta.title == "Quyết định về việc ban hành quy chế"


def test_decree_header_and_closing() -> None:
    text = (
        "CHÍNH PHỦ\n-------\n\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n\n"
        "Số: 168/2024/ND-CP\n\nHà Nội, ngày 26 tháng 12 năm 2024\n\nNGHỊ ĐỊNH\n"
        "Quy định xử phạt vi phạm hành chính về trật tự, an toàn giao thông\n"
        "trong lĩnh vực giao thông đường bộ\n\n"
        "Căn cứ Luật Tổ chức Chính phủ;\n\nChương I\n\nQUY ĐỊNH CHUNG\n\nĐiều 1. Phạm vi điều chỉnh\n\n"
        "1. Nghị định này quy định về hành vi vi phạm;\n\n2. Mức phạt.\n\n"
        "Nơi nhận:\n- Ban Bí thư Trung ương Đảng;\n"
        "- Lưu: VT.\n\nTM. CHÍNH PHỦ\nKT. THỦ TƯỚNG\nPHÓ THỦ TƯỚNG\n\n\n(Đã ký)\n\nTrần Hồng Hà\n"
    )
    doc = parse_document(SourceDocument("nd.txt", "txt", text, "0"), "nd")
    m = doc.meta
    assert (m.number, m.doc_type, m.issuer) == ("168/2024/NĐ-CP", "nghị định", "Chính phủ")
    assert m.issued_date == "2024-12-26"
    assert m.title == (
        "Nghị định quy định xử phạt vi phạm hành chính về trật tự, an toàn giao thông"
        " trong lĩnh vực giao thông đường bộ"
    )
    assert m.cc == ("Ban Bí thư Trung ương Đảng", "Lưu: VT")
    assert (m.signer, m.signer_title) == ("Trần Hồng Hà", "TM. CHÍNH PHỦ / KT. THỦ TƯỚNG / PHÓ THỦ TƯỚNG")
    khoan = [u.path for u in doc.units if u.kind == "khoan"]
    assert khoan == [("Chương I", "Điều 1", "Khoản 1"), ("Chương I", "Điều 1", "Khoản 2")]


# ---- laws ------------------------------------------------------------------------------------------


def test_law36_header(law36: ParsedDocument) -> None:
    m = law36.meta
    assert m.number == "36/2024/QH15"
    assert m.issued_date == "2024-06-27"
    assert m.issuer == "Quốc hội"
    assert m.place == "Hà Nội"
    assert m.doc_type == "luật"
    assert m.title == "Luật Trật tự, an toàn giao thông đường bộ"
    assert law36.warnings == ()


def test_law36_structure(law36: ParsedDocument) -> None:
    dieu = units(law36, "dieu")
    assert [u.label for u in dieu] == [f"Điều {n}" for n in range(1, 90)]
    chapters = units(law36, "chuong")
    assert len(chapters) == 9
    assert (chapters[1].label, chapters[1].title) == ("Chương II", "QUY TẮC GIAO THÔNG ĐƯỜNG BỘ")
    d10 = unit_at(law36, "Chương II", "Điều 10")
    assert d10.title == "Quy tắc chung" and d10.depth == 1
    assert law36.text[d10.start :].startswith("Điều 10. Quy tắc chung")
    assert law36.text[d10.start : d10.end].count("\nĐiều ") == 0  # the next article is not glued on
    # mentions of "Điều" in running text are not headings
    mentions = len(re.findall(r"Điều \d+", law36.text))
    assert mentions > 89 + 40 and len(re.findall(r"(?m)^Điều \d+\.", law36.text)) == 89
    assert unit_at(law36, "Chương II", "Điều 10", "Khoản 2").kind == "khoan"
    assert units(law36, "closing")[0].start > dieu[-1].start


def test_law36_unnumbered_paragraph_stays_in_its_clause(law36: ParsedDocument) -> None:
    k1 = unit_at(law36, "Chương II", "Điều 14", "Khoản 1")
    assert "Trên đường có từ hai làn đường dành cho xe cơ giới" in law36.text[k1.start : k1.end]


def test_law35_structure(law35: ParsedDocument) -> None:
    assert [u.label for u in units(law35, "dieu")] == [f"Điều {n}" for n in range(1, 87)]
    assert [u.label for u in units(law35, "muc")] == ["Mục 1", "Mục 2", "Mục 3", "Mục 4"]
    assert len(units(law35, "chuong")) == 6
    assert law35.meta.title == "Luật Đường bộ" and law35.meta.number == "35/2024/QH15"
    # "1 . Nguồn" (a typo in the source) is still clause 1 of Điều 42
    k1 = unit_at(law35, "Chương II", "Mục 4", "Điều 42", "Khoản 1")
    assert law35.text[k1.start :].startswith("1 . Nguồn tài chính")
    assert unit_at(law35, "Chương II", "Mục 4", "Điều 42", "Khoản 2", "Điểm a").depth == 4


def test_laws_parse_quickly() -> None:
    sources = [source(LAWS / "luat-36-2024-QH15.txt"), source(LAWS / "luat-35-2024-QH15.txt")]
    t = time.perf_counter()
    for s in sources:
        parse_document(s, "x")
    assert time.perf_counter() - t < 2.0


def test_nfd_source_parses_like_nfc() -> None:
    s = source(SEED)
    nfd = SourceDocument(s.path, s.format, unicodedata.normalize("NFD", s.text), s.sha256)
    assert parse_document(nfd, "a").text == parse_document(s, "a").text


def test_unstructured_text_becomes_paragraphs() -> None:
    doc = parse_document(SourceDocument("n.txt", "txt", "Đoạn một.\n\nĐoạn hai\nvẫn đoạn hai.", "0"), "n")
    assert [(u.kind, u.label) for u in doc.units] == [("paragraph", "Đoạn 1"), ("paragraph", "Đoạn 2")]


# ---- document numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("41/2024/QH15", "41/2024/QH15"),
        ("36/2024/QH15", "36/2024/QH15"),
        ("168/2024/NĐ-CP", "168/2024/NĐ-CP"),
        ("168/2024/nđ-cp", "168/2024/NĐ-CP"),
        ("168/2024/ND-CP", "168/2024/NĐ-CP"),
        ("168/2024/nd-cp", "168/2024/NĐ-CP"),
        ("652/TTĐN-NVĐP", "652/TTĐN-NVĐP"),
        ("652/ttdn-nvdp", "652/TTĐN-NVĐP"),
        ("08/CV-VPTT", "08/CV-VPTT"),
        ("03/2019/TT-BTTTT", "03/2019/TT-BTTTT"),
        ("03/2019/tt-btttt", "03/2019/TT-BTTTT"),
        ("1234/QD-TTg", "1234/QĐ-TTg"),
        ("Số: /STTTT-TTBCXB", "/STTTT-TTBCXB"),
        (" 36/2024/qh15 ", "36/2024/QH15"),
    ],
)
def test_normalize_doc_number(raw: str, expected: str) -> None:
    assert normalize_doc_number(raw) == expected


@pytest.mark.parametrize("text", ["ngày 30/7/2024", "công bố ngày 24/6/2024", "tháng 7/2024", "V/v thông tin",
                                  "50 km/h", "http://www.nhanquyenvn.org", "100/m2", "1/2 số"])
def test_not_document_numbers(text: str) -> None:
    assert find_doc_references(text) == []


def test_find_doc_references_offsets() -> None:
    text = "Căn cứ Nghị định số 168/2024/nd-cp ngày 26/12/2024 và Luật số 36/2024/QH15."
    refs = find_doc_references(text)
    assert [(r.number, text[r.start : r.end]) for r in refs] == [
        ("168/2024/NĐ-CP", "168/2024/nd-cp"),
        ("36/2024/QH15", "36/2024/QH15"),
    ]


def test_parse_date() -> None:
    assert parse_date("Hà Nội, ngày 27 tháng 6 năm 2024") == "2024-06-27"
    assert parse_date("ngày 30/7/2024") == "2024-07-30"
    assert parse_date("Kon Tum, ngày tháng năm") is None

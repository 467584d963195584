"""Validity facts (hiệu lực, thay thế, sửa đổi, bãi bỏ, hướng dẫn) read from legal texts: synthetic and real."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from ingest.parse.validity import Validity, ValidityFact, parse_validity
from rag.text.normalize import normalize_text

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _doc(*articles: str, head: str = "") -> str:
    """A small document: optional title block, then "Điều N. Title\\nbody" articles."""
    return "\n\n".join([head, *articles]).strip()


def _rows(v: Validity, *kinds: str) -> list[tuple[str, str | None, str | None, str | None, str | None]]:
    return [(f.kind, f.date, f.target, f.article, f.clause) for f in v.facts if not kinds or f.kind in kinds]


def _only(v: Validity, kind: str) -> ValidityFact:
    facts = [f for f in v.facts if f.kind == kind]
    assert len(facts) == 1, v.facts
    return facts[0]


def _real(rel: str) -> str:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path.read_text(encoding="utf-8")


# --- the document's own effective date -------------------------------------------------------------------


def test_law_effective_with_exception() -> None:
    text = _doc("Điều 88. Hiệu lực thi hành\n\n1. Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2025, "
                "trừ trường hợp quy định tại khoản 2 Điều này.")
    v = parse_validity(text)
    assert v.effective_from == "2025-01-01" and v.effective_to is None
    fact = _only(v, "effective")
    assert (fact.article, fact.clause, fact.target, fact.target_title) == ("88", "1", None, None)
    assert normalize_text(text)[fact.start : fact.end].startswith("Luật này có hiệu lực thi hành từ ngày 01")


@pytest.mark.parametrize(
    "sentence",
    [
        "Nghị định này có hiệu lực thi hành kể từ ngày 01 tháng 01 năm 2025.",
        "Nghị định này có hiệu lực thi hành kể từ ngày 1 tháng 1 năm 2025.",
        "Thông tư này có hiệu lực từ ngày 01/01/2025.",
        "Thông tư này có hiệu lực từ 1-1-2025.",
        "Quyết định này có hiệu lực kể từ ngày 01.01.2025.",
        "Luật này chính thức có hiệu lực thi hành từ ngày 1/1/2025.",
        "Bộ luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2025.",
    ],
)
def test_effective_date_as_words_and_digits(sentence: str) -> None:
    v = parse_validity(_doc(f"Điều 9. Hiệu lực thi hành\n{sentence}"))
    assert v.effective_from == "2025-01-01"
    assert _rows(v) == [("effective", "2025-01-01", None, "9", None)]


@pytest.mark.parametrize(
    ("sentence", "issued", "expected"),
    [
        ("Nghị định này có hiệu lực kể từ ngày ký.", "2024-12-26", "2024-12-26"),
        ("Thông tư này có hiệu lực từ ngày ký ban hành.", "2024-12-26", "2024-12-26"),
        ("Quyết định này có hiệu lực thi hành kể từ ngày ban hành.", "2024-12-26", "2024-12-26"),
        ("Nghị định này có hiệu lực sau 45 ngày kể từ ngày ký.", "2025-01-01", "2025-02-15"),
        ("Nghị định này có hiệu lực kể từ ngày ký.", None, None),
        ("Luật này có hiệu lực thi hành từ ngày 31/02/2025.", None, None),  # no such day
    ],
)
def test_effective_from_signing(sentence: str, issued: str | None, expected: str | None) -> None:
    v = parse_validity(_doc(f"Điều 9. Hiệu lực thi hành\n{sentence}"), issued_date=issued)
    assert v.effective_from == expected
    assert _only(v, "effective").date == expected


def test_signing_date_falls_back_to_the_header_line() -> None:
    head = "CHÍNH PHỦ\nSố: 5/2024/NĐ-CP\nHà Nội, ngày 26 tháng 12 năm 2024\nNGHỊ ĐỊNH\nQuy định về việc X"
    v = parse_validity(_doc("Điều 3. Hiệu lực thi hành\nNghị định này có hiệu lực kể từ ngày ký.", head=head))
    assert v.effective_from == "2024-12-26"
    # issued_date given by the caller wins
    v = parse_validity(_doc("Điều 3. Hiệu lực\nNghị định này có hiệu lực kể từ ngày ký.", head=head),
                       issued_date="2025-01-02")
    assert v.effective_from == "2025-01-02"


def test_untitled_article_of_a_decision() -> None:
    text = _doc("Điều 1. Phê duyệt Kế hoạch.", "Điều 2. Quyết định này có hiệu lực kể từ ngày ký.",
                "Điều 3. Chánh Văn phòng chịu trách nhiệm thi hành Quyết định này./.")
    v = parse_validity(text, issued_date="2025-03-04")
    assert _rows(v) == [("effective", "2025-03-04", None, "2", None)]


def test_own_end() -> None:
    v = parse_validity(_doc("Điều 2. Hiệu lực thi hành\n1. Nghị quyết này có hiệu lực từ ngày 1 tháng 1 năm 2025.\n"
                            "2. Nghị quyết này hết hiệu lực kể từ ngày 31/12/2026."))
    assert (v.effective_from, v.effective_to) == ("2025-01-01", "2026-12-31")
    assert _rows(v, "ends") == [("ends", "2026-12-31", None, "2", "2")]
    v = parse_validity(_doc("Điều 5. Hiệu lực\nNghị quyết này có hiệu lực từ ngày 01 tháng 01 năm 2025 "
                            "đến hết ngày 31 tháng 12 năm 2026."))
    assert (v.effective_from, v.effective_to) == ("2025-01-01", "2026-12-31")


# --- provisions with their own date ---------------------------------------------------------------------


def test_effective_part() -> None:
    text = _doc("Điều 88. Hiệu lực thi hành\n1. Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2025.\n"
                "2. Quy định tại khoản 3 Điều 10 của Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2026.\n"
                "3. Điểm a khoản 1 Điều 5 có hiệu lực từ ngày 1/7/2025.")
    v = parse_validity(text)
    assert v.effective_from == "2025-01-01"
    assert _rows(v, "effective_part") == [
        ("effective_part", "2026-01-01", "khoản 3 Điều 10", "88", "2"),
        ("effective_part", "2025-07-01", "điểm a khoản 1 Điều 5", "88", "3"),
    ]


def test_effective_part_lists_are_split_into_provisions() -> None:
    text = _doc("Điều 85. Hiệu lực thi hành\nĐiểm a và điểm b khoản 2 Điều 42, Điều 43, khoản 1 Điều 84 và "
                "các khoản 1, 2 và 5 Điều 89 của Luật này có hiệu lực thi hành từ ngày 01 tháng 10 năm 2024.")
    targets = [f.target for f in parse_validity(text).facts]
    assert targets == ["điểm a khoản 2 Điều 42", "điểm b khoản 2 Điều 42", "Điều 43", "khoản 1 Điều 84",
                       "khoản 1 Điều 89", "khoản 2 Điều 89", "khoản 5 Điều 89"]


def test_effective_part_without_a_date_and_after_a_semicolon() -> None:
    text = _doc("Điều 53. Hiệu lực thi hành\n2. Quy định tại điểm m khoản 3 Điều 6 của Nghị định này có hiệu lực "
                "thi hành từ ngày 01 tháng 01 năm 2026; quy định tại điểm b khoản 1 Điều 32 của Nghị định này có "
                "hiệu lực thi hành theo quy định của pháp luật bảo vệ môi trường.")
    assert _rows(parse_validity(text)) == [
        ("effective_part", "2026-01-01", "điểm m khoản 3 Điều 6", "53", "2"),
        ("effective_part", None, "điểm b khoản 1 Điều 32", "53", "2"),
    ]


# --- other documents: ends, replaces, amends, guides ----------------------------------------------------


def test_ends_other_from_own_effective_date() -> None:
    text = _doc("Điều 88. Hiệu lực thi hành\n1. Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2025.\n"
                "3. Luật Giao thông đường bộ số 23/2008/QH12 đã được sửa đổi, bổ sung một số điều theo Luật số "
                "35/2018/QH14 và Luật số 44/2019/QH14 hết hiệu lực kể từ ngày Luật này có hiệu lực thi hành, trừ "
                "trường hợp quy định tại khoản 1 Điều 89 của Luật này.")
    fact = _only(parse_validity(text), "ends_other")
    assert (fact.target, fact.target_title, fact.date) == ("23/2008/QH12", "Luật Giao thông đường bộ", "2025-01-01")
    assert (fact.article, fact.clause) == ("88", "3")


@pytest.mark.parametrize(
    ("sentence", "target", "title", "day"),
    [
        ("Nghị định số 100/2019/NĐ-CP hết hiệu lực thi hành kể từ ngày 01 tháng 3 năm 2025.",
         "100/2019/NĐ-CP", None, "2025-03-01"),
        ("Khoản 2 Điều 3 Nghị định số 123/2021/NĐ-CP hết hiệu lực thi hành kể từ ngày 1-3-2025.",
         "123/2021/NĐ-CP", "Khoản 2 Điều 3 Nghị định", "2025-03-01"),
        ("Bãi bỏ Điều 5 của Thông tư số 01/2020/TT-BCA.", "01/2020/TT-BCA", "Điều 5 của Thông tư", "2025-01-01"),
        ("Thông tư số 12/2017/TT-BGTVT bị bãi bỏ.", "12/2017/TT-BGTVT", None, "2025-01-01"),
    ],
)
def test_ends_other_phrasings(sentence: str, target: str, title: str | None, day: str) -> None:
    text = _doc(f"Điều 9. Hiệu lực thi hành\n1. Thông tư này có hiệu lực từ ngày 01/01/2025.\n2. {sentence}")
    fact = _only(parse_validity(text), "ends_other")
    assert (fact.target, fact.target_title, fact.date, fact.clause) == (target, title, day, "2")


def test_ends_other_list_after_colon() -> None:
    text = _doc("Điều 9. Hiệu lực thi hành\n1. Thông tư này có hiệu lực thi hành từ ngày 15 tháng 02 năm 2025.\n"
                "2. Các văn bản sau đây hết hiệu lực kể từ ngày Thông tư này có hiệu lực thi hành:\n"
                "a) Thông tư số 12/2017/TT-BGTVT ngày 15 tháng 4 năm 2017 của Bộ trưởng Bộ Giao thông vận tải;\n"
                "b) Thông tư số 38/2019/TT-BGTVT.\n3. Bộ trưởng chịu trách nhiệm thi hành Thông tư này.")
    assert _rows(parse_validity(text), "ends_other") == [
        ("ends_other", "2025-02-15", "12/2017/TT-BGTVT", "9", "2"),
        ("ends_other", "2025-02-15", "38/2019/TT-BGTVT", "9", "2"),
    ]


def test_replaces() -> None:
    text = _doc("Điều 9. Hiệu lực thi hành\n1. Nghị định này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2025.\n"
                "2. Nghị định này thay thế Nghị định số 100/2019/NĐ-CP ngày 30 tháng 12 năm 2019 của Chính phủ quy "
                "định xử phạt vi phạm hành chính trong lĩnh vực giao thông đường bộ và đường sắt.")
    fact = _only(parse_validity(text), "replaces")
    assert (fact.target, fact.date, fact.clause) == ("100/2019/NĐ-CP", "2025-01-01", "2")
    assert fact.target_title == ("Nghị định của Chính phủ quy định xử phạt vi phạm hành chính trong lĩnh vực "
                                 "giao thông đường bộ và đường sắt")


def test_effective_and_replaces_in_one_sentence() -> None:
    text = _doc("Điều 3. Quyết định này có hiệu lực kể từ ngày ký và thay thế Quyết định số 123/QĐ-UBND "
                "ngày 5 tháng 1 năm 2020 về trụ sở làm việc của Ủy ban nhân dân tỉnh, trừ Điều 2.")
    v = parse_validity(text, issued_date="2025-03-04")
    assert _rows(v) == [("effective", "2025-03-04", None, "3", None),
                        ("replaces", "2025-03-04", "123/QĐ-UBND", "3", None)]
    assert v.facts[1].target_title == "Quyết định về trụ sở làm việc của Ủy ban nhân dân tỉnh"


def test_replaces_a_document_named_only_by_title_and_date() -> None:
    text = _doc("Điều 88. Hiệu lực thi hành\n1. Luật này có hiệu lực thi hành từ ngày 01 tháng 7 năm 2009.\n"
                "2. Luật này thay thế Luật giao thông đường bộ ngày 29 tháng 6 năm 2001.")
    fact = _only(parse_validity(text), "replaces")
    assert (fact.target, fact.target_title, fact.date) == (
        None, "Luật giao thông đường bộ ngày 29 tháng 6 năm 2001", "2009-07-01")


def test_amends_in_title_and_article() -> None:
    head = ("QUỐC HỘI\nLuật số: 1/2025/QH15\nHà Nội, ngày 1 tháng 1 năm 2025\nLUẬT\n\nSỬA ĐỔI, BỔ SUNG MỘT SỐ "
            "ĐIỀU CỦA LUẬT QUY HOẠCH,\nLUẬT ĐẦU TƯ\n\nCăn cứ Hiến pháp đã được sửa đổi, bổ sung theo Nghị quyết số "
            "51/2001/QH10;\nQuốc hội ban hành Luật sửa đổi, bổ sung một số điều của Luật Quy hoạch, Luật Đầu tư.")
    text = _doc("Điều 1. Sửa đổi, bổ sung một số điều của Luật Quy hoạch số 21/2017/QH14\n"
                "1. Sửa đổi khoản 2 Điều 3 như sau:\n“2. Luật này có hiệu lực từ ngày 01/01/2030.”",
                "Điều 3. Hiệu lực thi hành\nLuật này có hiệu lực thi hành từ ngày 01 tháng 7 năm 2025.", head=head)
    v = parse_validity(text)
    assert v.effective_from == "2025-07-01"  # the quoted, amended wording is not this law's date
    amends = [(f.target, f.target_title, f.article, f.date) for f in v.facts if f.kind == "amends"]
    assert amends == [(None, "Luật đầu tư", None, "2025-07-01"),  # title block only: no number
                      ("21/2017/QH14", "Luật Quy hoạch", "1", "2025-07-01")]
    assert all(f.target != "51/2001/QH10" for f in v.facts)  # "Căn cứ …" is a legal basis


def test_amending_clauses_take_the_date_of_their_provision() -> None:
    text = _doc("Điều 84. Sửa đổi, bổ sung một số điều của các luật có liên quan\n"
                "1. Sửa đổi, bổ sung tiểu mục 1 trong Danh mục phí ban hành kèm theo Luật Phí và lệ phí số "
                "97/2015/QH13 đã được sửa đổi, bổ sung một số điều theo Luật số 09/2017/QH14 như sau:\n"
                "2. Sửa đổi, bổ sung khoản 5 Điều 51 của Luật Điện lực số 28/2004/QH11 như sau:",
                "Điều 85. Hiệu lực thi hành\n1. Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2025.\n"
                "2. Khoản 1 Điều 84 của Luật này có hiệu lực thi hành từ ngày 01 tháng 10 năm 2024.")
    assert _rows(parse_validity(text), "amends") == [("amends", "2024-10-01", "97/2015/QH13", "84", "1"),
                                                     ("amends", "2025-01-01", "28/2004/QH11", "84", "2")]


def test_guides() -> None:
    head = ("CHÍNH PHỦ\nSố: 1/2025/NĐ-CP\nHà Nội, ngày 2 tháng 1 năm 2025\nNGHỊ ĐỊNH\nQuy định chi tiết một số điều "
            "của Luật Trật tự, an toàn giao thông đường bộ\nCăn cứ Luật Tổ chức Chính phủ ngày 19 tháng 6 năm 2015;")
    text = _doc("Điều 1. Phạm vi điều chỉnh\nNghị định này quy định chi tiết một số điều của Luật Trật tự, an toàn "
                "giao thông đường bộ và hướng dẫn thi hành Luật Đường bộ.", head=head)
    guides = [(f.target_title, f.article) for f in parse_validity(text).facts if f.kind == "guides"]
    assert guides == [("Luật Trật tự, an toàn giao thông đường bộ", None), ("Luật Đường bộ", "1")]


def test_legal_basis_and_delegation_are_not_guides() -> None:
    head = ("NGHỊ ĐỊNH\nQuy định xử phạt vi phạm hành chính\nCăn cứ Luật Trật tự, an toàn giao thông đường bộ ngày "
            "27 tháng 6 năm 2024;\nChính phủ ban hành Nghị định quy định xử phạt vi phạm hành chính.")
    text = _doc("Điều 89. Quy định chi tiết và hướng dẫn thi hành\nChính phủ quy định chi tiết và hướng dẫn thi "
                "hành các điều, khoản được giao trong Luật.", head=head)
    assert parse_validity(text).facts == ()


# --- scope: only statements about documents count -------------------------------------------------------


def test_licence_validity_is_not_a_document_fact() -> None:
    text = _doc("Điều 5. Giấy phép lái xe\n1. Giấy phép lái xe hạng A có hiệu lực từ ngày 01 tháng 01 năm 2025.\n"
                "2. Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2030.",  # not a validity article
                "Điều 6. Hiệu lực của giấy phép lái xe\nGiấy phép lái xe hạng B hết hiệu lực kể từ ngày 01/01/2026.",
                "Điều 7. Quy định chuyển tiếp\nGiấy phép lái xe được cấp trước ngày Luật này có hiệu lực thi hành "
                "theo Thông tư số 12/2017/TT-BGTVT có hiệu lực sử dụng đến hết thời hạn.")
    assert parse_validity(text) == Validity(None, None, ())


def test_sample_forms_after_the_signature_are_ignored() -> None:
    text = _doc("Điều 2. Hiệu lực thi hành\nThông tư này có hiệu lực từ ngày 01 tháng 3 năm 2025.",
                "Nơi nhận:\n- Như Điều 3;\nKT. BỘ TRƯỞNG\nPHỤ LỤC\nMẫu số 01",
                "Điều 3. Quyết định này có hiệu lực kể từ ngày 01/01/2000.")
    assert _rows(parse_validity(text)) == [("effective", "2025-03-01", None, "2", None)]


def test_decomposed_and_unaccented_text() -> None:
    text = "Điều 88. Hiệu lực thi hành\nLuật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2025."
    assert parse_validity(unicodedata.normalize("NFD", text)).effective_from == "2025-01-01"
    assert parse_validity("Dieu 5. Hieu luc thi hanh\nLuat nay co hieu luc tu ngay 01/01/2025.").effective_from == (
        "2025-01-01")


def test_empty_text() -> None:
    assert parse_validity("") == Validity(None, None, ())


# --- real documents -------------------------------------------------------------------------------------


def test_real_luat_36_2024() -> None:
    raw = _real("laws/luat-36-2024-QH15.txt")
    v = parse_validity(raw)
    assert (v.effective_from, v.effective_to) == ("2025-01-01", None)
    # Điều 88: 1. from 01/01/2025; 2. "Khoản 3 Điều 10 của Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm
    # 2026"; 3. Luật 23/2008/QH12 and 4. Nghị quyết 73/2022/QH15 end when this law takes effect.
    assert _rows(v) == [
        ("effective", "2025-01-01", None, "88", "1"),
        ("effective_part", "2026-01-01", "khoản 3 Điều 10", "88", "2"),
        ("ends_other", "2025-01-01", "23/2008/QH12", "88", "3"),
        ("ends_other", "2025-01-01", "73/2022/QH15", "88", "4"),
    ]
    assert [f.target_title for f in v.facts if f.kind == "ends_other"] == [
        "Luật Giao thông đường bộ", "Nghị quyết của Quốc hội về thí điểm đấu giá biển số xe ô tô"]
    text = normalize_text(raw)
    assert text[v.facts[1].start : v.facts[1].end].startswith("Khoản 3 Điều 10 của Luật này có hiệu lực")
    assert text[v.facts[2].start : v.facts[2].end].startswith("Luật Giao thông đường bộ số 23/2008/QH12")
    # Điều 89 (transition): "Giấy phép lái xe … có hiệu lực sử dụng như sau" is about licences, not the law.
    assert all(f.article == "88" for f in v.facts)


def test_real_luat_35_2024() -> None:
    v = parse_validity(_real("laws/luat-35-2024-QH15.txt"))
    assert (v.effective_from, v.effective_to) == ("2025-01-01", None)
    # Điều 85. 2: "Điểm a và điểm b khoản 2 Điều 42, Điều 43, Điều 50, khoản 1 Điều 84 của Luật này có hiệu lực thi
    # hành từ ngày 01 tháng 10 năm 2024."
    assert _rows(v, "effective", "effective_part", "ends_other") == [
        ("effective", "2025-01-01", None, "85", "1"),
        *[("effective_part", "2024-10-01", p, "85", "2")
          for p in ["điểm a khoản 2 Điều 42", "điểm b khoản 2 Điều 42", "Điều 43", "Điều 50", "khoản 1 Điều 84"]],
        ("ends_other", "2025-01-01", "23/2008/QH12", "85", "3"),
    ]
    # Điều 84 amends four laws; its khoản 1 (Luật Phí và lệ phí) takes effect early, with Điều 85 khoản 2.
    assert [(f.date, f.target, f.target_title, f.clause) for f in v.facts if f.kind == "amends"] == [
        ("2024-10-01", "97/2015/QH13", "Luật Phí và lệ phí", "1"),
        ("2025-01-01", "21/2017/QH14", "Luật Quy hoạch", "2"),
        ("2025-01-01", "64/2020/QH14", "Luật Đầu tư theo phương thức đối tác công tư", "3"),
        ("2025-01-01", "28/2004/QH11", "Luật Điện lực", "4"),
    ]


def test_real_nghi_dinh_168_2024() -> None:
    v = parse_validity(_real("related/nghi-dinh-168-2024-ND-CP.txt"))
    assert (v.effective_from, v.effective_to) == ("2025-01-01", None)
    # Điều 53: 1. from 01/01/2025; 2. three points from 01/01/2026, điểm b khoản 1 Điều 32 "theo quy định của pháp
    # luật bảo vệ môi trường về kiểm định khí thải" (no date).
    assert _rows(v, "effective", "effective_part") == [
        ("effective", "2025-01-01", None, "53", "1"),
        ("effective_part", "2026-01-01", "điểm m khoản 3 Điều 6", "53", "2"),
        ("effective_part", "2026-01-01", "điểm e khoản 4 Điều 26", "53", "2"),
        ("effective_part", "2026-01-01", "điểm b khoản 1 Điều 27", "53", "2"),
        ("effective_part", None, "điểm b khoản 1 Điều 32", "53", "2"),
    ]
    # It neither replaces nor ends Nghị định 100/2019/NĐ-CP: Điều 52 amends it (as amended by 123/2021/NĐ-CP),
    # repealing some of its provisions. "Căn cứ Luật Trật tự, an toàn giao thông đường bộ" is no "guides".
    amends = _only(v, "amends")
    assert (amends.target, amends.article, amends.clause, amends.date) == ("100/2019/NĐ-CP", "52", None, "2025-01-01")
    assert amends.target_title == ("Nghị định của Chính phủ quy định xử phạt vi phạm hành chính trong lĩnh vực "
                                   "giao thông đường bộ và đường sắt")
    assert not [f for f in v.facts if f.kind in ("replaces", "ends_other", "guides", "ends")]
    assert all(f.target != "123/2021/NĐ-CP" for f in v.facts)


def test_real_luat_23_2008() -> None:
    v = parse_validity(_real("related/luat-23-2008-QH12.txt"))
    assert (v.effective_from, v.effective_to) == ("2009-07-01", None)
    # Điều 88: "2. Luật này thay thế Luật giao thông đường bộ ngày 29 tháng 6 năm 2001." (no số hiệu in the text)
    assert _rows(v) == [("effective", "2009-07-01", None, "88", "1"), ("replaces", "2009-07-01", None, "88", "2")]
    assert v.facts[1].target_title == "Luật giao thông đường bộ ngày 29 tháng 6 năm 2001"

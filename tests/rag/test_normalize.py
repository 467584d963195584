import unicodedata
from pathlib import Path

import pytest

from rag.text.normalize import canonical_tone, fold_accents, is_syllable, normalize_text

LAWS = Path(__file__).resolve().parents[3] / "shared" / "data" / "laws"
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "dispatch-STTTT-TTBCXB.md"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("hoà", "hòa"),
        ("thuỷ", "thủy"),
        ("quỳên", "quyền"),
        ("HOÀ", "HÒA"),
        ("Uỷ", "Ủy"),
        ("loè", "lòe"),
        ("khoẻ", "khỏe"),
        ("qủa", "quả"),
        ("tòan", "toàn"),
        ("nguỹên", "nguyễn"),
        ("hòa", "hòa"),  # already canonical
        ("thủy", "thủy"),
        ("quyền", "quyền"),
        ("toàn", "toàn"),  # final consonant: tone on the last vowel
        ("hoàng", "hoàng"),
        ("người", "người"),  # ươ carries the tone on ơ
        ("giữ", "giữ"),  # gi + ư
        ("gìn", "gìn"),  # gi with no other vowel: i is the vowel
        ("quả", "quả"),  # qu + a
        ("ngoài", "ngoài"),  # three vowels: the middle one
        ("khuỷu", "khuỷu"),
        ("Quỳnh", "Quỳnh"),
        ("José", "José"),  # not Vietnamese: untouched
        ("UBND", "UBND"),
    ],
)
def test_canonical_tone(word: str, expected: str) -> None:
    assert canonical_tone(word) == expected


def test_canonical_tone_accepts_decomposed_input() -> None:
    assert canonical_tone(unicodedata.normalize("NFD", "thuỷ")) == "thủy"


def test_is_syllable() -> None:
    assert is_syllable("Quốc") and is_syllable("tỉnh") and is_syllable("KON")
    assert not is_syllable("UBND") and not is_syllable("TTĐT") and not is_syllable("José")


def test_whitespace() -> None:
    raw = "\ufeffa\u00a0 b\t\tc   \r\n\r\n\r\n\r\nd\u200be  \n  f"
    assert normalize_text(raw) == "a b c\n\nde\nf"


def test_tone_marks_in_running_text() -> None:
    assert normalize_text("Cộng hoà xã hội, thuỷ lợi, Uỷ ban") == "Cộng hòa xã hội, thủy lợi, Ủy ban"


def test_nfd_input_gives_the_nfc_result() -> None:
    text = SEED.read_text(encoding="utf-8") + (LAWS / "luat-35-2024-QH15.txt").read_text(encoding="utf-8")
    assert normalize_text(unicodedata.normalize("NFD", text)) == normalize_text(text)


def test_idempotent_on_a_law() -> None:
    once = normalize_text((LAWS / "luat-35-2024-QH15.txt").read_text(encoding="utf-8"))
    assert normalize_text(once) == once
    assert "Cộng hòa xã hội chủ nghĩa Việt Nam khóa XV" in once  # the source spells it "Cộng hoà"


def test_pdf_repair_joins_broken_lines_and_keeps_structure() -> None:
    raw = (
        "Điều 5. Quy tắc chung\n"
        "1. Người tham gia giao thông phải đi bên phải theo\n"
        "chiều đi của mình, đi đúng làn đường\n"
        "a) Xe cơ giới;\n"
        "b) Xe thô sơ.\n"
        "- ghi chú\n"
        "Hết câu.\n"
        "sau dấu chấm"
    )
    out = normalize_text(raw, from_pdf=True)
    assert out.splitlines() == [
        "Điều 5. Quy tắc chung",
        "1. Người tham gia giao thông phải đi bên phải theo chiều đi của mình, đi đúng làn đường",
        "a) Xe cơ giới;",
        "b) Xe thô sơ.",
        "- ghi chú",
        "Hết câu.",
        "sau dấu chấm",
    ]
    # without from_pdf nothing is joined
    assert normalize_text(raw).count("\n") == raw.count("\n")


def test_pdf_hyphen_at_line_end() -> None:
    joined = normalize_text("quy định của pháp-\nluật hiện hành", from_pdf=True)
    assert joined == "quy định của pháp luật hiện hành"
    assert normalize_text("the infor-\nmation", from_pdf=True) == "the information"
    assert normalize_text("Phòng VH-\nTT", from_pdf=True) == "Phòng VH-\nTT"  # upper case: not a split word


def test_fold_accents() -> None:
    assert fold_accents("Đường bộ ĐẢM BẢO quyền") == "duong bo dam bao quyen"
    assert fold_accents(unicodedata.normalize("NFD", "Nghị định")) == "nghi dinh"

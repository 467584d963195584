"""The people <-> law vocabulary: the shipped table, its wording in the real texts, and expansions."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest

from rag.text.normalize import normalize_text
from rag.text.vocabulary import DEFAULT_PATH, VocabEntry, expansions, load_vocabulary

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
TRAFFIC_TEXTS = [
    SHARED / "laws" / "luat-36-2024-QH15.txt",
    SHARED / "laws" / "luat-35-2024-QH15.txt",
    SHARED / "related" / "nghi-dinh-168-2024-ND-CP.txt",
    SHARED / "related" / "luat-23-2008-QH12.txt",
]
ALQAC_LAWS = SHARED / "alqac2025" / "laws"
# Notes of traffic entries cite these texts; no other entry does.
TRAFFIC_CODES = ("36/2024", "35/2024", "168/2024", "23/2008")
# Law phrases of a single word are allowed only here: an unquoted comma in a YAML list splits a phrase
# into fragments such as "chồng" or "thi", which this guard catches.
ONE_WORD_LAW = {"t18"}


def _flat(text: str) -> str:
    """Lower-case NFC text with one tone-mark style and whitespace runs collapsed (punctuation kept)."""
    return " ".join(normalize_text(text).lower().split())


def _occurs(phrase: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(_flat(phrase)) + r"(?!\w)", text) is not None


@lru_cache(maxsize=1)
def _traffic_corpus() -> tuple[str, ...]:
    missing = [p for p in TRAFFIC_TEXTS if not p.exists()]
    if missing:
        pytest.skip(f"traffic texts not available: {missing}")
    return tuple(_flat(p.read_text(encoding="utf-8")) for p in TRAFFIC_TEXTS)


@lru_cache(maxsize=1)
def _alqac_corpus() -> tuple[str, ...]:
    if not ALQAC_LAWS.is_dir():
        pytest.skip(f"ALQAC laws not available: {ALQAC_LAWS}")
    texts = []
    for path in sorted(ALQAC_LAWS.glob("*.json")):
        articles = json.loads(path.read_text(encoding="utf-8"))
        texts.append(_flat("\n".join(body for article in articles for body in article.values())))
    return tuple(texts)


def _traffic_entries() -> list[VocabEntry]:
    return [e for e in load_vocabulary() if any(code in e.note for code in TRAFFIC_CODES)]


# --- the shipped table -----------------------------------------------------------------------------


def test_shipped_table_loads_and_validates() -> None:
    vocab = load_vocabulary()
    assert DEFAULT_PATH.name == "vocabulary.yaml" and DEFAULT_PATH.parent.name == "data"
    assert len(vocab) >= 60
    assert len(_traffic_entries()) >= 20
    assert len(vocab) - len(_traffic_entries()) >= 25
    assert load_vocabulary() is vocab  # read once, cached
    for entry in vocab:
        assert isinstance(entry, VocabEntry) and entry.people and entry.law
        for phrase in entry.people + entry.law:
            assert phrase == unicodedata.normalize("NFC", phrase) == normalize_text(phrase)
            assert phrase == phrase.lower() and phrase == phrase.strip()


def test_entries_are_sound() -> None:
    for entry in load_vocabulary():
        assert len(set(entry.people)) == len(entry.people), entry
        assert len(set(entry.law)) == len(entry.law), entry
        assert not set(entry.people) & set(entry.law), entry
        for phrase in entry.law:
            assert len(phrase.split()) > 1 or phrase in ONE_WORD_LAW, f"one-word law phrase {phrase!r}: comma split?"


def test_traffic_law_wording_occurs_in_the_traffic_texts() -> None:
    corpus = _traffic_corpus()
    missing = [p for e in _traffic_entries() for p in e.law if not any(_occurs(p, text) for text in corpus)]
    assert not missing


def test_every_law_phrase_occurs_in_a_legal_text() -> None:
    corpus = _traffic_corpus() + _alqac_corpus()
    missing = [p for e in load_vocabulary() for p in e.law if not any(_occurs(p, text) for text in corpus)]
    assert not missing


def test_brief_equivalences_are_present() -> None:
    pairs = {
        ("vượt đèn đỏ", "không chấp hành hiệu lệnh của đèn tín hiệu giao thông"),
        ("bằng lái", "giấy phép lái xe"),
        ("xe máy", "xe mô tô"),
        ("xe máy", "xe gắn máy"),
        ("nón bảo hiểm", "mũ bảo hiểm"),
        ("uống rượu bia", "nồng độ cồn"),
        ("csgt", "cảnh sát giao thông"),
        ("xe đạp điện", "xe đạp máy"),
        ("tước bằng", "tước quyền sử dụng giấy phép lái xe"),
        ("cà vẹt", "chứng nhận đăng ký xe"),
        ("ly dị", "ly hôn"),
        ("nhận con nuôi", "nuôi con nuôi"),
    }
    have = {(p, law) for e in load_vocabulary() for p in e.people for law in e.law}
    assert pairs <= have


# --- expansions --------------------------------------------------------------------------------------


def test_people_words_expand_to_the_law_wording() -> None:
    got = expansions("Vượt đèn đỏ bị phạt bao nhiêu tiền?")
    assert "không chấp hành hiệu lệnh của đèn tín hiệu giao thông" in got
    assert "phạt tiền" in got
    assert "giấy phép lái xe" in expansions("Mất bằng lái xe thì làm sao?")


def test_law_wording_expands_to_people_words() -> None:
    got = expansions("Người không chấp hành hiệu lệnh của đèn tín hiệu giao thông")
    assert "vượt đèn đỏ" in got
    got = expansions("tước quyền sử dụng giấy phép lái xe")
    assert "tước bằng" in got
    assert "bằng lái" not in got  # "giấy phép lái xe" lies inside the longer match: ignored


def test_results_come_in_text_order_without_duplicates() -> None:
    got = expansions("Đi xe máy vượt đèn đỏ, rồi lại vượt đèn đỏ lần nữa")
    assert got.index("xe mô tô") < got.index("không chấp hành hiệu lệnh của đèn tín hiệu giao thông")
    assert len(got) == len(set(got))


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("vuot den do bi phat bao nhieu", "không chấp hành hiệu lệnh của đèn tín hiệu giao thông"),
        ("bang lai xe het han", "giấy phép lái xe"),
        ("CSGT co duoc tam giu xe khong", "cảnh sát giao thông"),
        ("ly di thi ai nuoi con", "ly hôn"),
    ],
)
def test_text_without_diacritics_matches(text: str, phrase: str) -> None:
    assert phrase in expansions(text)


def test_case_unicode_form_and_tone_style_do_not_matter() -> None:
    nfd_upper = unicodedata.normalize("NFD", "VƯỢT ĐÈN ĐỎ")
    assert "không chấp hành hiệu lệnh của đèn tín hiệu giao thông" in expansions(nfd_upper)
    # "thoả" (new tone style) finds the table's "thỏa"
    assert "điều khoản trọng tài" in expansions("Thoả thuận trọng tài có hiệu lực không?")


def test_matches_respect_word_boundaries() -> None:
    vocab = (VocabEntry(("phạt",), ("phạt tiền",)), VocabEntry(("oto",), ("xe ô tô",)), VocabEntry(("xe",), ("xa",)))
    assert expansions("phát hiện vi phạm", vocab) == []  # "phạt" is not "phát"
    assert expansions("phạtxx phạt_tiền", vocab) == []  # nor inside a longer token
    assert expansions("chụp photo giấy tờ", vocab) == []  # "oto" inside "photo"
    assert expansions("xem phim", vocab) == []  # "xe" inside "xem"
    assert expansions("bị phạt", vocab) == ["phạt tiền"]
    # the shipped table: "phạt" does not fire on "phát", nor "xe máy" inside "xe máy chuyên dùng"
    assert expansions("Phát hiện vi phạm") == []
    assert "xe mô tô" not in expansions("xe máy chuyên dùng phải đăng ký")
    assert "phạt tiền" not in expansions("Người bị kết án phạt tù")  # "phạt tù" is its own entry


def test_phrases_do_not_run_across_commas() -> None:
    vocab = (VocabEntry(("xe công trình",), ("xe máy chuyên dùng",)), VocabEntry(("dừng đỗ",), ("dừng xe, đỗ xe",)))
    assert expansions("gần bến xe, công trình công cộng", vocab) == []
    assert expansions("xe công trình", vocab) == ["xe máy chuyên dùng"]
    assert expansions("Cấm dừng xe, đỗ xe", vocab) == ["dừng đỗ"]


def test_phrases_already_in_the_text_are_not_returned() -> None:
    vocab = (VocabEntry(("bằng lái", "bằng lái xe"), ("giấy phép lái xe",)),)
    assert expansions("bằng lái xe, tức giấy phép lái xe", vocab) == []
    assert expansions("Giấy phép lái xe", vocab) == ["bằng lái", "bằng lái xe"]
    assert "phạt" not in expansions("phạt tiền xe máy")  # "phạt" is a word of the text already
    samples = [
        "Vượt đèn đỏ bị phạt bao nhiêu?",
        "Xe máy không có bằng lái bị tạm giữ xe mấy ngày?",
        "Người điều khiển xe ô tô trong máu hoặc hơi thở có nồng độ cồn bị trừ điểm giấy phép lái xe",
        "Ly dị thì chia tài sản chung vợ chồng thế nào, ai có quyền nuôi con?",
        "Nhập hộ khẩu cho con ở nhà trọ được không?",
    ]
    for text in samples:
        flat = _flat(text)
        got = expansions(text)
        assert got, text
        assert not [p for p in got if _occurs(p, flat)], text


def test_empty_and_unrelated_text() -> None:
    assert expansions("") == []
    assert expansions("Thời tiết hôm nay đẹp quá") == []


def test_entries_are_frozen() -> None:
    entry = load_vocabulary()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.people = ()  # type: ignore[misc]


def test_import_has_no_side_effects() -> None:
    code = "import rag.text.vocabulary as v; print(v.load_vocabulary.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


# --- validation --------------------------------------------------------------------------------------

GOOD = "- people: [bằng lái]\n  law: [giấy phép lái xe]\n  note: 36/2024\n"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("- people: []\n  law: [giấy phép lái xe]\n", "entry 1"),
        ("- people: [bằng lái]\n", "entry 1"),
        ("- people: bằng lái\n  law: [giấy phép lái xe]\n", "entry 1"),
        ("- people: ['']\n  law: [giấy phép lái xe]\n", "entry 1"),
        ("- people: ['  , ']\n  law: [giấy phép lái xe]\n", "entry 1"),
        ("- people: [bằng lái]\n  law: [7]\n", "entry 1"),
        ("- people: [bằng lái]\n  law: [giấy phép lái xe]\n  laws: [x]\n", "entry 1"),
        ("- people: [bằng lái]\n  law: [giấy phép lái xe]\n  note: [x]\n", "entry 1"),
        ("- just a string\n", "entry 1"),
    ],
)
def test_malformed_table_raises_naming_the_entry(tmp_path: Path, bad: str, message: str) -> None:
    path = tmp_path / "vocab.yaml"
    path.write_text(GOOD + bad, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_vocabulary(path)


def test_top_level_must_be_a_list(tmp_path: Path) -> None:
    path = tmp_path / "vocab.yaml"
    path.write_text("people: [a]\nlaw: [b]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="list"):
        load_vocabulary(path)


def test_custom_table_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "vocab.yaml"
    decomposed = unicodedata.normalize("NFD", "thoả thuận trọng tài")
    path.write_text(f"- people: [điều khoản trọng tài]\n  law: ['{decomposed}']\n", encoding="utf-8")
    (entry,) = load_vocabulary(path)
    assert entry.law == ("thỏa thuận trọng tài",) and entry.note == ""
    assert expansions("điều khoản trọng tài", (entry,)) == ["thỏa thuận trọng tài"]

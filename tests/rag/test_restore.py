"""Diacritic restoration from a corpus's own words (real law text; no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.text.diacritics import Lexicon, build_lexicon, restore, table_phrases

LAW = Path(__file__).resolve().parents[2] / "corpus" / "nghi-dinh-168-2024-ND-CP.txt"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return build_lexicon([LAW.read_text(encoding="utf-8")], table_phrases())


@pytest.mark.parametrize(("typed", "restored"), [
    ("xe may vuot den do bi phat bao nhieu", "xe máy vượt đèn đỏ bị phạt bao nhiêu"),
    ("khong co giay phep lai xe", "không có giấy phép lái xe"),
    ("Nong do con trong mau", "Nồng độ cồn trong máu"),
])
def test_restores_what_the_corpus_writes(lexicon: Lexicon, typed: str, restored: str) -> None:
    assert restore(typed, lexicon) == restored


def test_keeps_what_it_cannot_know_and_what_is_accented(lexicon: Lexicon) -> None:
    assert restore("zxqw 2024 km/h", lexicon) == "zxqw 2024 km/h"
    assert restore("Xe máy vuot den do", lexicon) == "Xe máy vượt đèn đỏ"
    assert restore("", lexicon) == ""


def test_frequent_spellings_win() -> None:
    lex = build_lexicon(["bán bán bạn bạn bản"])
    assert restore("ban", lex) in {"bán", "bạn"} and restore("ban ban", lex) != "ban ban"

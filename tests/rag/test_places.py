"""The places table (rag/data/places.yaml): provinces named with and without diacritics, local texts told from
questions about the law. The rule built on it is tested on the real default corpus in
tests/system/test_legal_answers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.text.places import asks_local_text, lower_words, mentions_place, places_named


@pytest.mark.parametrize(("question", "places"), [
    ("Công văn của Sở Thông tin và Truyền thông tỉnh Gia Lai về tuyên truyền luật?", ["Gia Lai"]),
    ("cong van cua so tttt kon tum ve quyen con nguoi", ["Kon Tum"]),
    ("Ở TP.HCM đi xe máy không đội mũ bảo hiểm bị phạt bao nhiêu?", ["Hồ Chí Minh"]),
    ("Kế hoạch của UBND tỉnh Đắc Lắc và tỉnh Lâm Đồng", ["Đắk Lắk", "Lâm Đồng"]),
    ("Người lái xe không được thực hiện hành vi nào?", []),
    ("Xe gắn máy hòa bình trên đường", []),  # "hòa bình" without "tỉnh" is not the province
])
def test_places_are_named_with_and_without_diacritics(question: str, places: list[str]) -> None:
    assert places_named(question) == places


def test_local_texts_are_told_from_questions_about_the_law() -> None:
    assert asks_local_text("Công văn của Sở TT&TT tỉnh Gia Lai yêu cầu gì?")
    assert asks_local_text("What does the dispatch of Gia Lai require?")
    assert not asks_local_text("Ở Đà Nẵng không đội mũ bảo hiểm bị phạt bao nhiêu?")


def test_a_document_names_a_place_with_its_diacritics() -> None:
    assert mentions_place(lower_words("Sở Thông tin và Truyền thông tỉnh KON TUM"), "Kon Tum")
    assert mentions_place(lower_words("UBND tỉnh Khánh Hoà"), "Khánh Hòa")  # either tone-mark style
    assert not mentions_place(lower_words("tỉnh Kon Tum"), "Gia Lai")
    # a law's "được đấu giá lại" folds to "gia lai" but is not the province
    assert not mentions_place(lower_words("biển số xe trúng đấu giá được đấu giá lại"), "Gia Lai")


def test_a_malformed_table_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "places.yaml"
    bad.write_text("places: {}\nlocal_texts: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="local_texts"):
        places_named("Gia Lai", bad)

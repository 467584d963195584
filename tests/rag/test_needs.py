"""The needs table (rag/data/needs.yaml): the kind of fact a question asks for, with and without diacritics and
in English, and whether a passage holds one."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.evidence import holds, missing_need, needed, needs


@pytest.mark.parametrize(("question", "need"), [
    ("Không đội mũ bảo hiểm bị phạt bao nhiêu tiền?", "money"),
    ("khong doi mu bao hiem bi phat bao nhieu tien", "money"),
    ("Mấy tuổi thì được lái xe gắn máy?", "age"),
    ("may tuoi thi duoc lai xe gan may", "age"),
    ("How old must a driver of a truck be?", "age"),
    ("Thời hạn báo cáo là khi nào?", "deadline"),
    ("Luật này có hiệu lực từ ngày nào?", "effective"),
])
def test_each_kind_is_recognised(question: str, need: str) -> None:
    assert need in needed(question)


def test_a_question_about_no_kind_needs_nothing() -> None:
    assert needed("Người lái xe có những nghĩa vụ gì?") == []


def test_a_passage_holds_the_kind_or_not() -> None:
    assert holds("age", "a) Người đủ 16 tuổi trở lên được điều khiển xe gắn máy;")
    assert not holds("age", "Xe gắn máy là xe có hai hoặc ba bánh")
    assert holds("money", "Phạt tiền từ 400.000 đồng đến 600.000 đồng")
    assert missing_need("Mấy tuổi thì được lái xe gắn máy?", ["Xe gắn máy là xe có hai bánh"]) == "age"
    assert missing_need("Mấy tuổi thì được lái xe gắn máy?", ["Người đủ 16 tuổi trở lên"]) is None


def test_a_malformed_table_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "needs.yaml"
    bad.write_text("money: {asks: 'phat'}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="asks"):
        needs(bad)
    bad.write_text("money: {asks: '(unclosed', has: 'x'}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs.yaml"):
        needs(bad)

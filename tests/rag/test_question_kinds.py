"""The question-kind phrase table: shipped table loads, matching ignores diacritics and respects words."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.text.question_kinds import load_kinds, question_kinds


@pytest.mark.parametrize(("question", "expected"), [
    ("Xe máy vượt đèn đỏ bị phạt bao nhiêu?", {"fine", "fact"}),
    ("xe may vuot den do bi phat bao nhieu", {"fine", "fact"}),
    ("Không đội mũ bảo hiểm bị trừ mấy điểm bằng lái?", {"points", "fact"}),
    ("Luật Giao thông đường bộ 2008 còn hiệu lực không?", {"ends"}),
    ("Văn bản nào thay thế Luật 23/2008/QH12?", {"ends"}),
    ("Văn bản nào đã làm chấm dứt hiệu lực của Luật Giao thông đường bộ năm 2008?", {"ends"}),
    ("luat giao thong duong bo 2008 co phai da khong con hieu luc", {"ends"}),
    ("Nghị định 168/2024/NĐ-CP có hiệu lực từ ngày nào?", {"effective", "fact"}),
    ("Người lái xe mô tô không được thực hiện những hành vi nào?", {"list"}),
    ("What is the fine for running a red light?", {"fine"}),
    ("UBND các huyện phải làm gì?", set()),
    ("Con tôi 15 tuổi lén chạy xe máy bị CSGT bắt thì bị xử lý thế nào?", {"fine", "fact"}),
    ("khong chiu thoi nong do con thi bi xu ly sao", {"fine"}),
    ("Cơ quan nào xử lý vi phạm?", set()),
    ("Dừng xe và đỗ xe khác nhau thế nào?", {"definition"}),
    ("xe gan may la xe nhu the nao", {"definition", "fact"}),
])
def test_kinds(question: str, expected: set[str]) -> None:
    assert question_kinds(question) == expected


def test_words_not_substrings() -> None:
    assert "fine" not in question_kinds("Define the scope")  # "fine" inside "define"
    assert "fine" not in question_kinds("phạt góc")  # no fine phrase: only "phạt tiền", "bị phạt", …


def test_malformed_table(tmp_path: Path) -> None:
    bad = tmp_path / "k.yaml"
    bad.write_text("fine: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="fine"):
        load_kinds(bad)
    bad.write_text("finez: [phạt]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown kind"):
        load_kinds(bad)

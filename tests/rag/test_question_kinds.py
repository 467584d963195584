"""The question-kind phrase table: shipped table loads, matching ignores diacritics and respects words."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.text.question_kinds import load_asks, load_kinds, penalty_act, question_kinds


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


@pytest.mark.parametrize(("question", "act"), [
    ("Xe máy chở theo từ 03 người trở lên thì bị phạt bao nhiêu và có bị trừ điểm bằng lái không?",
     "Xe máy chở theo từ 03 người trở lên"),
    ("khong co bang lai ma chay xe may 110cc thi bi phat bao nhieu", "khong co bang lai ma chay xe may 110cc"),
    ("Xe máy vượt đèn đỏ bị trừ mấy điểm bằng lái?", "Xe máy vượt đèn đỏ"),
    ("Mức phạt và số điểm bị trừ khi điều khiển xe tải chở hàng vượt trọng tải cho phép trên 150%?",
     "điều khiển xe tải chở hàng vượt trọng tải cho phép trên 150%"),
    ("What is the fine for riding a motorbike on an expressway?", "riding a motorbike on an expressway"),
    ("Lái xe khách dừng đón, trả khách trên đường cao tốc thì bị phạt bao nhiêu và trừ mấy điểm?",
     "Lái xe khách dừng đón, trả khách trên đường cao tốc"),
])
def test_penalty_act_keeps_the_act_and_drops_the_asking(question: str, act: str) -> None:
    assert penalty_act(question) == act


def test_penalty_act_is_empty_for_other_questions() -> None:
    assert penalty_act("Điều 12 Luật 36/2024/QH15 quy định gì?") == ""
    assert penalty_act("Người lái xe mô tô không được thực hiện những hành vi nào?") == ""


def test_malformed_asks_table(tmp_path: Path) -> None:
    bad = tmp_path / "a.yaml"
    bad.write_text("asks: [bị phạt]\nleading: []\ntrailing: [thì]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="leading"):
        load_asks(bad)

"""Graded ranges of provisions and quantities of questions (rag/text/quantities.py, rag/data/units.yaml)."""

from __future__ import annotations

import pytest

from rag.text.quantities import Range, asked_quantities, graded_ranges, in_range_terms, range_fit


@pytest.mark.parametrize(("text", "expected"), [
    ("a) Điều khiển xe chạy quá tốc độ quy định trên 20 km/h đến 35 km/h;", [Range("speed", 20, False, 35, True)]),
    ("chạy quá tốc độ quy định từ 05 km/h đến dưới 10 km/h", [Range("speed", 5, True, 10, False)]),
    ("trên 35 km/h", [Range("speed", 35, False, None, False)]),
    ("nồng độ cồn vượt quá 0,25 miligam đến 0,4 miligam/1 lít khí thở",
     [Range("breath_alcohol", 0.25, False, 0.4, True)]),
    ("chưa vượt quá 50 miligam/100 mililít máu hoặc chưa vượt quá 0,25 miligam/1 lít khí thở",
     [Range("blood_alcohol", None, False, 50, True), Range("breath_alcohol", None, False, 0.25, True)]),
    ("Phạt cảnh cáo người từ đủ 14 tuổi đến dưới 16 tuổi điều khiển xe", [Range("age", 14, True, 16, False)]),
    ("Người đủ 18 tuổi trở lên", [Range("age", 18, True, None, False)]),
    ("vượt quá tải trọng cho phép của đường bộ trên 10% đến 20%", [Range("percent", 10, False, 20, True)]),
    ("Phạt tiền từ 4.000.000 đồng đến 6.000.000 đồng", []),  # amounts are not graded quantities
])
def test_graded_ranges(text: str, expected: list[Range]) -> None:
    assert graded_ranges(text) == expected


@pytest.mark.parametrize(("question", "value", "unit"), [
    ("Lái ô tô chạy quá tốc độ cho phép khoảng 25 km/h thì bị phạt bao nhiêu?", 25, "speed"),
    ("xe may chay qua toc do 15km/h bi phat bao nhieu", 15, "speed"),  # no diacritics, no space
    ("đo được 0,3 miligam/1 lít khí thở", 0.3, "breath_alcohol"),
    ("thổi ra 0.3 mg/l", 0.3, "breath_alcohol"),
    ("Con tôi mới 15 tuổi lén chạy xe máy", 15, "age"),
])
def test_asked_quantities(question: str, value: float, unit: str) -> None:
    (q,) = asked_quantities(question)
    assert (round(q.value, 3), q.unit) == (value, unit)


def test_more_than_is_just_above_the_bound() -> None:
    (q,) = asked_quantities("chạy quá tốc độ hơn 20 km/h")
    assert not Range("speed", 10, True, 20, True).contains(q.value)
    assert Range("speed", 20, False, 35, True).contains(q.value)


def test_fit_and_coverage_terms() -> None:
    qs = asked_quantities("quá tốc độ 25 km/h")
    assert range_fit(qs, "trên 20 km/h đến 35 km/h") == 1
    assert range_fit(qs, "từ 10 km/h đến 20 km/h") == -1
    assert range_fit(qs, "không chấp hành hiệu lệnh của đèn tín hiệu giao thông") == 0
    assert range_fit([], "trên 20 km/h đến 35 km/h") == 0
    assert in_range_terms(qs, ["trên 20 km/h đến 35 km/h"]) == {"25"}
    assert in_range_terms(qs, ["từ 10 km/h đến 20 km/h"]) == set()

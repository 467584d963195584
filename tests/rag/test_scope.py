"""The out-of-scope table (rag/data/out_of_scope.yaml): each kind is recognised with and without diacritics
and in English, and the questions the laws do answer are left alone (every ALQAC train question, and the
answerable questions of our own sets, which name countries and pay as parties or subjects)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.text.scope import out_of_scope
from tests.conftest import REPO, SHARED


@pytest.mark.parametrize(("question", "kind"), [
    ("Giới hạn tốc độ trên cao tốc ở Thái Lan là bao nhiêu?", "foreign_law"),
    ("gioi han nong do con tai nhat ban la bao nhieu", "foreign_law"),
    ("What is the drink-driving limit in Japan?", "foreign_law"),
    ("Năm 2023 cả nước có bao nhiêu người chết vì tai nạn giao thông?", "statistics"),
    ("Số điện thoại đường dây nóng của Cảnh sát giao thông tỉnh là gì?", "contact"),
    ("Học phí học lái xe hạng A1 là bao nhiêu?", "price_list"),
    ("Mức lương của trung úy công an là bao nhiêu?", "pay_scale"),
    ("Lương hằng tháng của chánh văn phòng sở là bao nhiêu?", "pay_scale"),
    ("Phí qua trạm trên cao tốc là bao nhiêu đồng mỗi km?", "price_list"),
    ("Mức phạt nồng độ cồn sẽ tăng lên bao nhiêu vào năm sau?", "future_change"),
    ("Will the speeding fines increase in the future?", "future_change"),
])
def test_each_kind_is_recognised(question: str, kind: str) -> None:
    assert out_of_scope(question) == kind


@pytest.mark.parametrize("question", [
    "Báo cáo tự do tôn giáo của Bộ Ngoại giao Hoa Kỳ được công bố vào ngày nào?",  # a party, not a place
    "Khi cung cấp thông tin về xử lý vi phạm pháp luật cần tránh điều gì?",  # "pháp" is not France
    "Người nước ngoài lái xe tại Việt Nam cần giấy phép lái xe gì?",
    "Không chấp hành hiệu lệnh của đèn tín hiệu bị phạt bao nhiêu tiền?",
    "Thời hạn nghiên cứu hồ sơ vụ án của Viện kiểm sát là bao lâu?",  # "hồ sơ vụ" is not a count of cases
    "Người tố cáo có quyền yêu cầu giữ bí mật địa chỉ của mình không?",
])
def test_questions_the_law_answers_are_left_alone(question: str) -> None:
    assert out_of_scope(question) is None


def test_no_alqac_question_and_no_answerable_question_of_ours_is_out_of_scope() -> None:
    alqac = json.loads((SHARED / "data" / "alqac2025" / "train.json").read_text(encoding="utf-8"))
    flagged = [q["text"] if "text" in q else q["question"] for q in alqac
               if out_of_scope(q.get("text") or q.get("question"))]
    assert flagged == []
    ours = [json.loads(line) for path in sorted((REPO / "evals" / "datasets").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [q["question"] for q in ours if q.get("answerable", True) and out_of_scope(q["question"])] == []


def test_a_malformed_table_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "scope.yaml"
    bad.write_text("statistics: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="phrase lists"):
        out_of_scope("bao nhiêu vụ", bad)

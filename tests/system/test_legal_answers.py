"""Provision-level answers on the real default corpus (dispatch, 36/2024, 35/2024, 168/2024, 23/2008), through
the answering entry point, the API and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.answer.entry import answer, search
from rag.query import understand
from rag.records import Turn
from rag.retrieve import names_unknown_document, unknown_places
from rag.road_users import asked_road_users, other_road_users
from tests.conftest import REPO, cli_env

pytestmark = pytest.mark.slow


def cited_articles(ans: Any) -> set[tuple[str | None, str]]:
    return {(c.number, c.breadcrumb.split("Điều ")[1].split(" ")[0]) for c in ans.citations if "Điều " in c.breadcrumb}


def test_exact_article_is_quoted_whole(full_corpus_engine: Any) -> None:
    ans = answer("Điều 12 Luật 36/2024/QH15 quy định gì?", engine=full_corpus_engine)
    assert not ans.abstained
    assert ans.text.startswith("Theo Điều 12 Luật Trật tự, an toàn giao thông đường bộ (36/2024/QH15):")
    for point in ("a) Tại nơi có vạch kẻ đường", "c) Chuyển hướng xe chạy hoặc tầm nhìn bị hạn chế", "n) Khu vực"):
        assert point in ans.text
    assert cited_articles(ans) == {("36/2024/QH15", "12")}


def test_exact_point_comes_with_its_clause_lead_in(full_corpus_engine: Any) -> None:
    ans = answer("điểm c khoản 7 Điều 7 Nghị định 168/2024/NĐ-CP", engine=full_corpus_engine)
    lines = ans.text.splitlines()
    assert lines[0] == "Theo điểm c khoản 7 Điều 7 Nghị định 168/2024/NĐ-CP:"
    assert any(ln.startswith("7. Phạt tiền từ 4.000.000 đồng đến 6.000.000 đồng") for ln in lines)
    assert any(ln.startswith("c) Không chấp hành hiệu lệnh của đèn tín hiệu giao thông") for ln in lines)
    assert not any(ln.startswith(("a) ", "b) ", "d) ")) for ln in lines)  # exactly that point


def test_short_number_names_the_decree(full_corpus_engine: Any) -> None:
    ans = answer("Khoản 12 Điều 6 Nghị định 168 xử phạt hành vi gì?", engine=full_corpus_engine)
    assert not ans.abstained and ans.text.startswith("Theo khoản 12 Điều 6 Nghị định 168/2024/NĐ-CP:")
    assert "lạng lách, đánh võng" in ans.text


def test_fine_without_diacritics_gives_amount_and_act(full_corpus_engine: Any) -> None:
    ans = answer("khong doi mu bao hiem khi di xe may bi phat bao nhieu", engine=full_corpus_engine)
    assert not ans.abstained, ans.hits[:3]
    assert "400.000 đồng đến 600.000 đồng" in ans.text and "mũ bảo hiểm" in ans.text
    assert ans.text.startswith("Theo ") and "Nghị định 168/2024/NĐ-CP" in ans.text.splitlines()[0]


def test_fine_brings_licence_points_of_the_same_act(full_corpus_engine: Any) -> None:
    ans = answer("Người đi xe máy không chấp hành hiệu lệnh của đèn tín hiệu giao thông bị phạt bao nhiêu và trừ "
                 "mấy điểm?", engine=full_corpus_engine)
    assert "4.000.000 đồng đến 6.000.000 đồng" in ans.text
    assert "bị trừ điểm giấy phép lái xe 04 điểm" in ans.text  # khoản 13 điểm b refers to điểm c khoản 7


def test_current_rule_comes_from_the_law_in_force(full_corpus_engine: Any) -> None:
    ans = answer("Người lái xe mô tô được chở trẻ em dưới bao nhiêu tuổi?", engine=full_corpus_engine)
    assert "12 tuổi" in ans.text and "14 tuổi" not in ans.text
    assert ans.citations and all(c.number != "23/2008/QH12" for c in ans.citations)
    assert ans.citations[0].status == "in_force"


def test_superseded_law_asked_by_name_is_quoted_with_its_status(full_corpus_engine: Any) -> None:
    ans = answer("Theo Luật Giao thông đường bộ 2008, xe máy được chở trẻ em dưới bao nhiêu tuổi?",
                 engine=full_corpus_engine)
    old = [c for c in ans.citations if c.number == "23/2008/QH12"]
    assert old and "14 tuổi" in ans.text
    assert {c.status for c in old} == {"ended"} and old[0].ended_on == "2025-01-01"
    assert old[0].replaced_by in {"36/2024/QH15", "35/2024/QH15"}
    assert "hết hiệu lực" in ans.text  # the note, with the clause that ended it quoted


def test_validity_question_cites_the_ending_clause(full_corpus_engine: Any) -> None:
    ans = answer("Luật Giao thông đường bộ 2008 còn hiệu lực không?", engine=full_corpus_engine)
    assert not ans.abstained
    assert "23/2008/QH12" in ans.text and "hết hiệu lực" in ans.text
    assert "01 tháng 01 năm 2025" in ans.text  # the replacing law's own effective date
    assert {c.number for c in ans.citations} <= {"36/2024/QH15", "35/2024/QH15"}
    # The passages beside the answer lead with the clause it cites (retrieval alone ranks the 2008 law's own
    # "Hiệu lực thi hành" first, which says when it began, not that it ended).
    assert ans.hits[0].chunk.id == ans.citations[0].chunk_id and ans.hits[0].rank == 1


def test_as_of_before_2025_prefers_the_2008_law(full_corpus_engine: Any) -> None:
    q = "Người lái xe mô tô được chở trẻ em dưới bao nhiêu tuổi?"
    then = answer(q, engine=full_corpus_engine, as_of="2020-06-01")
    assert then.citations[0].number == "23/2008/QH12" and then.citations[0].status == "in_force"
    assert "14 tuổi" in then.text


def test_a_text_only_named_is_answered_only_from_what_names_it(full_corpus_engine: Any) -> None:
    # The dispatch names the amended social insurance law and says what it brings, but not when it takes
    # effect; Điều 85 of 35/2024 has an effective date, of another law.
    about = answer("Luật BHXH sửa đổi có những nội dung gì đáng chú ý?", engine=full_corpus_engine)
    assert not about.abstained and "quyền của người lao động" in about.text
    when = answer("Luật Bảo hiểm xã hội sửa đổi có hiệu lực thi hành từ ngày nào?", engine=full_corpus_engine)
    assert when.abstained, when.text
    decree = answer("Thông tư 99/2030/TT-BCA quy định mức phạt bao nhiêu?", engine=full_corpus_engine)
    assert decree.abstained, decree.text
    snap = full_corpus_engine.store.snapshot
    assert names_unknown_document(snap, understand("Luật Bảo hiểm xã hội sửa đổi có hiệu lực khi nào?", ()))
    # "luật Quốc hội thông qua": the body that passes laws, not a law's title
    assert not names_unknown_document(snap, understand(
        "Công văn nêu những luật nào trong số các dự án luật Quốc hội thông qua tại kỳ họp thứ 7?", ()))


def test_sanction_question_in_everyday_words_gets_the_fine(full_corpus_engine: Any) -> None:
    ans = answer("Đi xe máy mà không chịu thổi nồng độ cồn khi CSGT yêu cầu thì bị xử lý sao?",
                 engine=full_corpus_engine)
    assert not ans.abstained, ans.hits[:3]
    assert "Nghị định 168/2024/NĐ-CP" in ans.text.splitlines()[0] and "Phạt tiền từ" in ans.text


def test_two_asked_terms_get_both_definitions(full_corpus_engine: Any) -> None:
    ans = answer("Dừng xe và đỗ xe khác nhau thế nào?", engine=full_corpus_engine)
    assert not ans.abstained
    assert "1. Dừng xe là trạng thái đứng yên tạm thời" in ans.text and "2. Đỗ xe là trạng thái đứng yên" in ans.text
    assert cited_articles(ans) == {("36/2024/QH15", "18")}


def test_follow_up_swaps_the_vehicle(full_corpus_engine: Any) -> None:
    history = [Turn("user", "Xe máy vượt đèn đỏ bị phạt bao nhiêu?"), Turn("assistant", "…")]
    ans = answer("Còn ô tô thì sao?", history, engine=full_corpus_engine)
    assert ans.standalone_question.lower().startswith("ô tô vượt đèn đỏ")
    assert any("Điều 6" in c.breadcrumb for c in ans.citations)  # the car article


def test_api_reports_status_and_takes_as_of(full_corpus_engine: Any) -> None:
    from api.app import create_app

    settings = full_corpus_engine.settings.model_copy(update={"rate_limit_per_minute": 100_000, "ui_enabled": False})
    with TestClient(create_app(settings, full_corpus_engine)) as client:
        r = client.post("/v1/ask", json={"question": "Theo Luật Giao thông đường bộ 2008 xe máy được chở mấy người?"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert any(c["number"] == "23/2008/QH12" and c["status"] == "ended" for c in body["citations"])
        r = client.post("/v1/ask", json={"question": "xe may vuot den do bi phat bao nhieu", "as_of": "2025-03-01"})
        assert r.status_code == 200 and not r.json()["abstained"]
        assert "4.000.000 đồng" in r.json()["answer"]
        assert client.post("/v1/ask", json={"question": "x", "as_of": "01/03/2025"}).status_code == 422


def test_cli_answers_a_superseded_question_and_a_fine(full_corpus_dirs: tuple[Path, Path]) -> None:
    env = cli_env(full_corpus_dirs[1])
    out = subprocess.run([sys.executable, "-m", "policyqa", "ask", "Luật Giao thông đường bộ 2008 quy định xe máy "
                          "được chở mấy người?"], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "hết hiệu lực từ 2025-01-01" in out.stdout  # the citation line says so
    out = subprocess.run([sys.executable, "-m", "policyqa", "ask", "--json", "xe may vuot den do bi phat bao nhieu"],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    body = json.loads(out.stdout)
    assert not body["abstained"] and "4.000.000 đồng đến 6.000.000 đồng" in body["answer"]


@pytest.mark.parametrize("question", [
    "xe may chay qua toc do 15km/h bi phat bao nhieu tien",  # Điều 6 (cars) and Điều 8 (machinery) also match
    "Người đi bộ qua đường không đúng nơi quy định bị phạt bao nhiêu?",
])
def test_the_road_user_asked_about_outranks_the_others(full_corpus_engine: Any, question: str) -> None:
    asked = asked_road_users(question)
    top = search(question, engine=full_corpus_engine, k=5).hits
    assert top[0].chunk.doc_id == "nghi-dinh-168-2024-nd-cp" and not other_road_users(top[0].chunk, asked)
    off = replace(full_corpus_engine, settings=full_corpus_engine.settings.model_copy(
        update={"road_user_factor": 1.0}))
    unranked = search(question, engine=off, k=5).hits
    assert any(other_road_users(h.chunk, asked) for h in unranked)  # the case the factor is for


def test_another_provinces_dispatch_is_not_answered_from_kon_tums(full_corpus_engine: Any) -> None:
    snap = full_corpus_engine.store.snapshot
    gia_lai = "Công văn của Sở Thông tin và Truyền thông tỉnh Gia Lai về tuyên truyền Luật Đường bộ yêu cầu gì?"
    assert unknown_places(snap, understand(gia_lai, ())) == ["Gia Lai"]
    assert answer(gia_lai, engine=full_corpus_engine).abstained
    kon_tum = gia_lai.replace("Gia Lai", "Kon Tum")
    assert unknown_places(snap, understand(kon_tum, ())) == []
    # a national law applies in every province: naming a place does not make a fine question unanswerable
    fine = answer("Ở Gia Lai, đi xe máy không đội mũ bảo hiểm thì bị phạt bao nhiêu?", engine=full_corpus_engine)
    assert not fine.abstained and "168/2024/NĐ-CP" in fine.text


def test_a_clause_that_points_to_another_of_its_article_brings_it(full_corpus_engine: Any) -> None:
    # khoản 3 Điều 59 35/2024: "Không được từ chối vận tải hành khách, trừ lý do quy định tại khoản 1 Điều này"
    ans = answer("Lái xe ô tô chở khách có được từ chối chở hành khách không?", engine=full_corpus_engine)
    assert not ans.abstained
    assert "khoản 1 Điều 59" in ans.text and "Gian lận vé" in ans.text


def test_the_law_in_force_is_quoted_before_the_one_it_replaced(full_corpus_engine: Any) -> None:
    ans = answer("may tuoi thi duoc chay xe gan may (xe 50cc)?", engine=full_corpus_engine)
    assert not ans.abstained
    assert ans.text.startswith("Theo khoản 1 Điều 59 Luật Trật tự, an toàn giao thông đường bộ (36/2024/QH15)")
    assert "16 tuổi" in ans.text


def test_in_which_cases_quotes_the_list_not_a_definition_that_shares_a_word(full_corpus_engine: Any) -> None:
    # "dừng xe" is defined in Điều 18 khoản 1; the cases in which the police may stop a vehicle are Điều 66
    ans = answer("Cảnh sát giao thông được dừng xe để kiểm tra trong những trường hợp nào?", engine=full_corpus_engine)
    assert not ans.abstained
    assert ans.text.startswith("Theo Điều 66 Luật Trật tự, an toàn giao thông đường bộ"), ans.text[:200]


def test_a_provision_with_its_own_later_date_says_so(full_corpus_engine: Any) -> None:
    # khoản 3 Điều 10 of 36/2024 (children under 10 not beside the driver) takes effect on 01/01/2026 (Điều 88)
    ans = answer("Trẻ em dưới 10 tuổi cao dưới 1,35 mét có được ngồi cùng hàng ghế với người lái xe ô tô không, "
                 "quy định này áp dụng từ ngày nào?", engine=full_corpus_engine)
    assert not ans.abstained
    assert "Khoản 3 Điều 10 của Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2026" in ans.text


def test_a_fine_question_finds_the_point_that_names_the_act(full_corpus_engine: Any) -> None:
    question = "Xe máy chở theo từ 03 người trở lên thì bị phạt bao nhiêu và có bị trừ điểm bằng lái không?"
    ans = answer(question, engine=full_corpus_engine)
    assert not ans.abstained and "b) Chở theo từ 03 người trở lên trên xe" in ans.text
    assert "600.000 đồng đến 800.000 đồng" in ans.text and ("168/2024/NĐ-CP", "7") in cited_articles(ans)
    # With the act's own search off, the asking words ("phạt", "trừ điểm bằng lái") send it elsewhere.
    off = replace(full_corpus_engine, settings=full_corpus_engine.settings.model_copy(
        update={"penalty_act_weight": 0.0}))
    assert "Chở theo từ 03 người trở lên trên xe" not in answer(question, engine=off).text


def test_two_close_clauses_of_one_article_are_both_quoted(full_corpus_engine: Any) -> None:
    ans = answer("Theo Luật Đường bộ 2024, quốc lộ do cơ quan nào có trách nhiệm quản lý?", engine=full_corpus_engine)
    assert "Bộ Giao thông vận tải có trách nhiệm quản lý quốc lộ" in ans.text  # khoản 3
    assert "Ủy ban nhân dân cấp tỉnh có trách nhiệm quản lý" in ans.text  # khoản 4, its exception
    assert cited_articles(ans) == {("35/2024/QH15", "8")}

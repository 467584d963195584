"""The short-fact line, the role and definition preferences of the legal composer, on real decree/law chunks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rag.answer.legal_select import best_point, defines_asked_term
from rag.answer.legal_tables import (
    fact_span,
    load_facts,
    load_roles,
    misses_asked_role,
    names_other_role,
    unasked_article_kind,
)
from rag.answer.provision import chunk_lines, clause_chunks, unit_lines
from rag.query import understand
from rag.road_users import asked_road_users, load_road_users, other_road_users
from rag.text.quantities import asked_quantities
from rag.text.question_kinds import question_kinds
from tests.rag.test_provision import find, snapshot_of


@pytest.fixture(scope="module")
def decree() -> SimpleNamespace:
    snap = snapshot_of("nghi-dinh-168-2024-ND-CP.txt", "nd168")
    snap.idf, snap.idf_unseen = {}, 1.0
    return snap


@pytest.fixture(scope="module")
def law() -> SimpleNamespace:
    return snapshot_of("luat-36-2024-QH15.txt", "l36")


def test_tables_load() -> None:
    assert {"fine", "points", "age", "date"} <= set(load_facts())
    assert load_roles()


def test_fine_fact_is_the_amount_of_the_clause(decree: SimpleNamespace) -> None:
    q = understand("Xe máy không đội mũ bảo hiểm bị phạt bao nhiêu?")
    lines = chunk_lines(find(decree, "Điều 7 › Khoản 2 › Điểm a"))
    fact = fact_span(q, question_kinds(q.standalone), lines, [])
    assert fact is not None and fact.text == "Phạt tiền từ 400.000 đồng đến 600.000 đồng"


def test_age_fact(law: SimpleNamespace) -> None:
    q = understand("Bao nhiêu tuổi thì được lái xe gắn máy?")
    chunk = next(c for c in law.chunks.values() if c.article == "59" and "Độ tuổi" in c.text)
    fact = fact_span(q, question_kinds(q.standalone), chunk_lines(chunk), [])
    assert fact is not None and "16 tuổi" in fact.text


def test_points_come_from_the_referring_line(decree: SimpleNamespace) -> None:
    q = understand("Vượt đèn đỏ bị trừ mấy điểm?")
    clause = find(decree, "Điều 7 › Khoản 7")
    letter = best_point(chunk_lines(clause), ["chap", "hanh", "hieu", "lenh", "den", "tin", "hieu"], decree)
    assert letter == "c"
    extras = [ln for c in decree.chunks.values() if c.article == "7" for ln in chunk_lines(c)
              if "điểm c, điểm d, điểm đ khoản 7" in ln.text]
    fact = fact_span(q, question_kinds(q.standalone), chunk_lines(clause), extras)
    assert fact is not None and fact.text == "bị trừ điểm giấy phép lái xe 04 điểm"


def test_passenger_clause_is_another_role(decree: SimpleNamespace) -> None:
    passenger = find(decree, "Điều 12 › Khoản 5")
    assert names_other_role(decree, passenger, "Đi xe máy không đội mũ bảo hiểm bị phạt bao nhiêu?")
    assert not names_other_role(decree, passenger, "Người ngồi sau xe máy không đội mũ bảo hiểm bị phạt bao nhiêu?")
    driver = find(decree, "Điều 7 › Khoản 2 › Điểm h")
    assert not names_other_role(decree, driver, "Đi xe máy không đội mũ bảo hiểm bị phạt bao nhiêu?")


def test_a_pedestrian_question_wants_a_provision_that_names_pedestrians(decree: SimpleNamespace) -> None:
    rider = find(decree, "Điều 7 › Khoản 7")  # a rider running a red light (điểm c): the same act's words
    walker = next(c for c in decree.chunks.values() if c.article == "10" and "đèn tín hiệu" in c.text)
    question = "nguoi di bo khong chap hanh den tin hieu giao thong bi phat bao nhieu"  # typed without diacritics
    assert misses_asked_role(decree, rider, question) and not misses_asked_role(decree, walker, question)
    assert not misses_asked_role(decree, rider, "Xe máy vượt đèn đỏ bị phạt bao nhiêu?")  # no required role asked
    # passengers are not required: "chở mấy người" names them, and the rider's clause that answers it does not
    assert not next(r for r in load_roles() if "nguoi duoc cho" in r.provision).required


def test_definition_clause() -> None:
    assert defines_asked_term("6. Làn đường là một phần của phần đường xe chạy …", "Làn đường được hiểu là gì?")
    assert not defines_asked_term("6. Làn đường là một phần …", "Dải phân cách là gì?")


@pytest.mark.parametrize(("question", "crumb", "mismatch"), [
    # "xe máy" is a motorbike: not the construction machinery of Điều 8 nor the e-bikes of Điều 9
    ("Đi xe máy không đội mũ bảo hiểm bị phạt bao nhiêu?", "Điều 7 › Khoản 2 › Điểm h", False),
    ("Đi xe máy không đội mũ bảo hiểm bị phạt bao nhiêu?", "Điều 9 › Khoản 4", True),
    ("xe may chay qua toc do bi phat bao nhieu", "Điều 8 › Khoản 4", True),
    ("Xe máy chuyên dùng chạy quá tốc độ bị phạt bao nhiêu?", "Điều 8 › Khoản 4", False),
    ("Xe máy chuyên dùng chạy quá tốc độ bị phạt bao nhiêu?", "Điều 7 › Khoản 2 › Điểm b", True),
    ("Người đi bộ qua đường không đúng nơi quy định bị phạt bao nhiêu?", "Điều 7 › Khoản 5", True),
    ("Người đi bộ qua đường không đúng nơi quy định bị phạt bao nhiêu?", "Điều 10", False),
    ("What is the fine for riding a motorbike without a licence?", "Điều 18 › Khoản 7", False),  # xe cơ giới
    ("Không có giấy phép lái xe thì bị phạt bao nhiêu?", "Điều 9 › Khoản 4", False),  # no road user named
])
def test_a_provision_about_other_road_users_is_told_apart(decree: SimpleNamespace, question: str, crumb: str,
                                                          mismatch: bool) -> None:
    chunk = next(c for c in decree.chunks.values() if crumb in c.breadcrumb)
    assert other_road_users(chunk, asked_road_users(question)) is mismatch


def test_road_user_table_loads_longest_phrases_first() -> None:
    users = load_road_users()
    phrases = [p for p, _ in users.question]
    assert phrases.index(" xe may chuyen dung ") < phrases.index(" xe may ")
    assert users.covers["motor_vehicles"] >= {"car", "motorbike"}


def test_transitional_provisions_are_quoted_only_when_asked_for(law: SimpleNamespace) -> None:
    transitional = next(c for c in law.chunks.values() if c.article == "89" and "hạng A1" in c.text)
    licences = next(c for c in law.chunks.values() if c.article == "57" and "Hạng A1" in c.text)
    current = "Theo luật hiện hành, giấy phép lái xe hạng A1 được lái xe mô tô bao nhiêu phân khối?"
    assert unasked_article_kind(law, transitional, current)
    assert not unasked_article_kind(law, licences, current)
    assert not unasked_article_kind(law, transitional, "bang A1 da duoc cap truoc nam 2025 con chay duoc xe nao")


def test_a_graded_point_is_picked_by_the_question_quantity(decree: SimpleNamespace) -> None:
    lines = unit_lines(clause_chunks(decree, "nd168", "6", "5"))  # cars: khoản 5, one of its points is graded
    graded = [ln for ln in lines if "km/h" in ln.text]
    assert graded, "the clause grades speed"
    letter = best_point(lines, ["chay", "qua", "toc", "do"], decree, asked_quantities("quá tốc độ 15 km/h"))
    assert letter is not None and any(f"{letter}) " in ln.text and "10 km/h đến 20 km/h" in ln.text for ln in lines)


def test_definition_clause_with_a_list() -> None:
    assert defines_asked_term("1. Báo hiệu đường bộ bao gồm: hiệu lệnh …", "Báo hiệu đường bộ gồm những loại nào?")
    assert defines_asked_term("g) Xe gắn máy là xe có hai hoặc ba bánh …", "xe gan may la xe nhu the nao")


def test_an_owner_question_is_not_met_by_the_insurance_name_in_a_riders_clause(decree: SimpleNamespace) -> None:
    rider = find(decree, "Điều 18 › Khoản 4")  # "… bảo hiểm bắt buộc trách nhiệm dân sự của chủ xe cơ giới …"
    owner = next(c for c in decree.chunks.values() if c.article == "32" and c.clause == "10")
    question = "Chủ xe mô tô giao xe cho người không đủ điều kiện điều khiển thì bị phạt bao nhiêu?"
    assert "chủ xe cơ giới" in rider.text
    assert misses_asked_role(decree, rider, question) and not misses_asked_role(decree, owner, question)

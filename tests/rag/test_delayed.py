"""Units that an effect article gives their own date, read from its real wording (36/2024, 35/2024, 168/2024)."""

from __future__ import annotations

from rag.answer.delayed import DelayedUnit, _covers, _units
from rag.answer.provision import Line, Ref
from rag.records import Chunk


def _line(text: str) -> Line:
    chunk = Chunk(id="c", doc_id="d", ordinal=0, text=text, start=0, end=len(text),
                  breadcrumb="Luật › Điều 88 › Khoản 2", kind="clause", article="88", clause="2")
    return Line(chunk, 0, len(text))


def _parsed(text: str) -> set[tuple[str, frozenset[str], frozenset[str]]]:
    return {(u.article, u.clauses, u.points) for u in _units(_line(text))}


def test_the_units_of_an_effect_clause_are_read() -> None:
    assert _parsed("2. Khoản 3 Điều 10 của Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2026.") == {
        ("10", frozenset({"3"}), frozenset())}
    assert _parsed("2. Điểm a và điểm b khoản 2 Điều 42, Điều 43, Điều 50, khoản 1 Điều 84 của Luật này có hiệu "
                   "lực thi hành từ ngày 01 tháng 10 năm 2024.") == {
        ("42", frozenset({"2"}), frozenset({"a", "b"})), ("43", frozenset(), frozenset()),
        ("50", frozenset(), frozenset()), ("84", frozenset({"1"}), frozenset())}
    assert ("6", frozenset({"3"}), frozenset({"m"})) in _parsed(
        "2. Quy định tại điểm m khoản 3 Điều 6, điểm e khoản 4 Điều 26 của Nghị định này có hiệu lực thi hành từ "
        "ngày 01 tháng 01 năm 2026")


def test_a_quoted_unit_is_covered_when_it_is_in_or_holds_the_delayed_one() -> None:
    unit = DelayedUnit("10", frozenset({"3"}), frozenset(), _line("x"))
    assert _covers(unit, Ref("10", "3"))
    assert _covers(unit, Ref("10"))  # the whole article holds the delayed clause
    assert not _covers(unit, Ref("10", "2"))
    assert not _covers(unit, Ref("11", "3"))
    point = DelayedUnit("6", frozenset({"3"}), frozenset({"m"}), _line("x"))
    assert _covers(point, Ref("6", "3", "m")) and _covers(point, Ref("6", "3"))
    assert not _covers(point, Ref("6", "3", "a"))

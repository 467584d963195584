"""Which texts are in force on a date, from their own validity statements (synthetic documents)."""

from __future__ import annotations

from types import SimpleNamespace

from rag.records import DocumentMeta, StoredDocument, ValidityFact
from rag.validity_status import doc_statuses, status_words


def doc(doc_id: str, number: str, start: str | None, facts: tuple[ValidityFact, ...] = ()) -> StoredDocument:
    meta = DocumentMeta(title=doc_id, doc_type="luật", number=number, effective_from=start, validity=facts)
    return StoredDocument(doc_id=doc_id, source_key=doc_id, root="", sha256="0", format="txt", meta=meta,
                          text="", chunk_ids=())


def fact(kind: str, date: str | None = None, target: str | None = None) -> ValidityFact:
    return ValidityFact(kind=kind, date=date, target=target, target_title=None, article="88", clause="3",  # type: ignore[arg-type]
                        start=0, end=10)


DOCS = {
    "old": doc("old", "23/2008/QH12", "2009-07-01", (fact("effective", "2009-07-01"),)),
    "new": doc("new", "36/2024/QH15", "2025-01-01",
               (fact("effective", "2025-01-01"), fact("ends_other", None, "23/2008/QH12"))),
    "dispatch": doc("dispatch", "/STTTT-TTBCXB", None),
}


def test_a_text_ended_by_another_is_ended_from_that_texts_effective_date() -> None:
    now = doc_statuses(DOCS, "2026-12-01")
    assert now["old"].state == "ended" and now["old"].ended_on == "2025-01-01"
    assert now["old"].replaced_by == "36/2024/QH15" and now["old"].ended_by.doc_id == "new"
    assert now["new"].state == "in_force" and now["dispatch"].state == "unknown"
    assert not now["old"].in_force and now["new"].in_force and now["dispatch"].in_force


def test_as_of_before_the_new_law() -> None:
    then = doc_statuses(DOCS, "2020-05-01")
    assert then["old"].state == "in_force"
    assert then["new"].state == "not_yet" and not then["new"].in_force
    assert doc_statuses(DOCS, "2024-12-31")["old"].state == "in_force"
    assert doc_statuses(DOCS, "2025-01-01")["old"].state == "ended"


def test_own_end_and_numbers_written_differently() -> None:
    docs = {"a": doc("a", "100/2019/NĐ-CP", "2020-01-01", (fact("ends", "2025-01-01"),)),
            "b": doc("b", "168/2024/NĐ-CP", "2025-01-01", (fact("replaces", None, "100/2019/nđ-cp"),))}
    st = doc_statuses(docs, "2025-06-01")["a"]
    assert st.state == "ended" and st.ended_on == "2025-01-01"


def test_status_words() -> None:
    c = SimpleNamespace(status="ended", ended_on="2025-01-01", replaced_by="36/2024/QH15")
    assert status_words(c) == " (hết hiệu lực từ 2025-01-01; thay bằng 36/2024/QH15)"
    assert "replaced by 36/2024/QH15" in status_words(c, "en")
    assert status_words(SimpleNamespace(status=None)) == ""

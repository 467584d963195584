"""Legal provision helpers on real chunks of the fines decree and the 2024 road law (no model needed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ingest.chunk import chunk_document
from ingest.load import load_file
from ingest.parse.document import parse_document
from rag.answer.provision import (
    Ref,
    article_title,
    chunk_ref,
    clause_lead,
    doc_words,
    internal_refs,
    points_referring,
)

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def snapshot_of(name: str, doc_id: str) -> SimpleNamespace:
    """The parts of a store snapshot the provision helpers read, for one document."""
    doc = parse_document(load_file(CORPUS / name), doc_id)
    chunks = chunk_document(doc)
    return SimpleNamespace(chunks={c.id: c for c in chunks}, by_doc={doc_id: tuple(c.id for c in chunks)},
                           docs={doc_id: SimpleNamespace(meta=doc.meta, text=doc.text)})


@pytest.fixture(scope="module")
def decree() -> SimpleNamespace:
    return snapshot_of("nghi-dinh-168-2024-ND-CP.txt", "nd168")


def find(snap: SimpleNamespace, crumb_tail: str):  # noqa: ANN201
    return next(c for c in snap.chunks.values() if c.breadcrumb.endswith(crumb_tail))


def test_internal_refs_read_point_and_clause_lists() -> None:
    text = ("a) Thực hiện hành vi quy định tại điểm b khoản 3; khoản 5; điểm b, điểm c, điểm d khoản 6; "
            "điểm a khoản 7 Điều này bị trừ điểm giấy phép lái xe 02 điểm;")
    assert internal_refs(text) == {("3", "b"), ("5", None), ("6", "b"), ("6", "c"), ("6", "d"), ("7", "a")}
    assert internal_refs("các điểm d, e và g khoản 3 Điều này") == {("3", "d"), ("3", "e"), ("3", "g")}
    # A reference to another article is not one to this article's clauses.
    assert internal_refs("quy định tại các điểm d, e, g khoản 3 Điều 89 của Luật này") == set()


def test_point_chunk_knows_its_place_lead_and_heading(decree: SimpleNamespace) -> None:
    point = find(decree, "Điều 7 › Khoản 2 › Điểm h")
    assert chunk_ref(point) == Ref("7", "2", "h")
    lead = clause_lead(decree, point)
    assert lead is not None and lead.text.startswith("2. Phạt tiền từ 400.000 đồng đến 600.000 đồng")
    title = article_title(decree, point)
    assert title is not None and title.text.startswith("Điều 7. Xử phạt, trừ điểm giấy phép lái")
    # The context embedded with the point carries the lead-in and the article title.
    assert "Phạt tiền từ 400.000 đồng đến 600.000 đồng" in point.context and "Điều 7." in point.context


def test_fine_point_finds_its_licence_points_and_additional_penalties(decree: SimpleNamespace) -> None:
    point = find(decree, "Điều 7 › Khoản 9 › Điểm a")
    lines = [ln.text for ln in points_referring(decree, point)]
    assert any("tước quyền sử dụng giấy phép lái xe từ 10 tháng đến 12 tháng" in t for t in lines)
    assert all("khoản 9" in t for t in lines)


def test_doc_words() -> None:
    law = snapshot_of("luat-36-2024-QH15.txt", "l36")
    assert doc_words(law.docs["l36"].meta) == "Luật Trật tự, an toàn giao thông đường bộ (36/2024/QH15)"
    decree_meta = snapshot_of("nghi-dinh-168-2024-ND-CP.txt", "nd").docs["nd"].meta
    assert doc_words(decree_meta) == "Nghị định 168/2024/NĐ-CP"

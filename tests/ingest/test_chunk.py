import hashlib
from pathlib import Path

import pytest

from ingest.chunk import chunk_document, document_label, estimate_tokens
from ingest.load import load_file as source
from ingest.parse.document import parse_document
from rag.records import Chunk, ParsedDocument

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PATHS = {
    "seed": SHARED / "seed" / "dispatch-STTTT-TTBCXB.md",
    "dispatch": ROOT / "corpus" / "dispatch-STTTT-TTBCXB.md",
    "luat-36": SHARED / "data" / "laws" / "luat-36-2024-QH15.txt",
    "luat-35": SHARED / "data" / "laws" / "luat-35-2024-QH15.txt",
}




@pytest.fixture(scope="module")
def docs() -> dict[str, ParsedDocument]:
    return {name: parse_document(source(p), name) for name, p in PATHS.items()}


@pytest.fixture(scope="module")
def chunks(docs: dict[str, ParsedDocument]) -> dict[str, list[Chunk]]:
    return {name: chunk_document(d) for name, d in docs.items()}


def assert_sound(doc: ParsedDocument, chunks: list[Chunk]) -> None:
    """Slices are exact, in order, disjoint, and cover every non-blank character."""
    covered = bytearray(len(doc.text))
    prev_end = 0
    for n, c in enumerate(chunks):
        assert c.text == doc.text[c.start : c.end]
        assert c.ordinal == n and c.doc_id == doc.doc_id
        assert c.text == c.text.strip() and c.text
        assert c.start >= prev_end
        prev_end = c.end
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    lost = [i for i, ch in enumerate(doc.text) if not ch.isspace() and not covered[i]]
    assert lost == []


@pytest.mark.parametrize("name", list(PATHS))
def test_slices_and_nothing_lost(name: str, docs: dict[str, ParsedDocument],
                                 chunks: dict[str, list[Chunk]]) -> None:
    assert_sound(docs[name], chunks[name])


@pytest.mark.parametrize("name", list(PATHS))
def test_budget_and_ids(name: str, chunks: dict[str, list[Chunk]]) -> None:
    assert all(estimate_tokens(c.text) <= 400 for c in chunks[name])
    assert len({c.id for c in chunks[name]}) == len(chunks[name])
    c = chunks[name][0]
    assert c.id == hashlib.sha256("\x00".join((c.doc_id, c.breadcrumb, c.text)).encode()).hexdigest()[:32]


@pytest.mark.parametrize("name", list(PATHS))
@pytest.mark.parametrize("budget", [25, 60, 150])
def test_small_budgets_still_cut_cleanly(name: str, budget: int, docs: dict[str, ParsedDocument]) -> None:
    small = chunk_document(docs[name], max_tokens=budget)
    assert_sound(docs[name], small)
    assert all(estimate_tokens(c.text) <= budget for c in small)


def test_deterministic(docs: dict[str, ParsedDocument], chunks: dict[str, list[Chunk]]) -> None:
    again = chunk_document(docs["luat-35"])
    assert [(c.id, c.start, c.end, c.context) for c in again] == [
        (c.id, c.start, c.end, c.context) for c in chunks["luat-35"]
    ]


def test_custom_token_counter(docs: dict[str, ParsedDocument]) -> None:
    by_chars = chunk_document(docs["seed"], max_tokens=300, count_tokens=len)
    assert_sound(docs["seed"], by_chars)
    assert all(len(c.text) <= 300 for c in by_chars)


def test_document_labels(docs: dict[str, ParsedDocument]) -> None:
    assert document_label(docs["luat-36"]) == "Luật 36/2024/QH15"
    assert document_label(docs["seed"]) == "Công văn /STTTT-TTBCXB"


def test_law_chunks(chunks: dict[str, list[Chunk]]) -> None:
    law = chunks["luat-36"]
    d10 = [c for c in law if c.article == "10"]
    assert d10 and all(c.breadcrumb.startswith("Luật 36/2024/QH15 › Chương II › Điều 10") for c in d10)
    assert all("Chương II. QUY TẮC GIAO THÔNG ĐƯỜNG BỘ" in c.context for c in d10)
    assert law[0].kind == "header" and law[1].kind == "preamble"
    # one chunk per Điều when it fits
    d1 = [c for c in law if c.article == "1"]
    assert len(d1) == 1 and d1[0].kind == "dieu" and d1[0].text.startswith("Điều 1. Phạm vi điều chỉnh")
    # a long Điều is cut per Khoản; the heading goes into the context, not repeated in the text
    d2 = [c for c in law if c.article == "2"]
    assert len(d2) > 1 and d2[0].text.startswith("Điều 2. Giải thích từ ngữ")
    k2 = next(c for c in d2 if c.clause == "2")
    assert k2.kind == "khoan" and k2.text.startswith("2. Phương tiện giao thông đường bộ")
    assert "Điều 2. Giải thích từ ngữ" in k2.context
    assert k2.breadcrumb == "Luật 36/2024/QH15 › Chương I › Điều 2 › Khoản 2"
    assert k2.context.startswith("Luật Trật tự, an toàn giao thông đường bộ\nLuật 36/2024/QH15 › Chương I")
    # no chunk straddles two articles
    assert all(len({p for p in c.text.split("\n") if p.startswith("Điều ")}) <= 1 for c in law)


def test_law35_sections_in_breadcrumbs(chunks: dict[str, list[Chunk]]) -> None:
    c = next(c for c in chunks["luat-35"] if c.article == "42" and c.clause == "1")
    assert c.breadcrumb.startswith("Luật 35/2024/QH15 › Chương II › Mục 4 › Điều 42")
    assert "Mục 4. ĐẦU TƯ, XÂY DỰNG" in c.context


@pytest.mark.parametrize("name", ["seed", "dispatch"])
def test_dispatch_chunks(name: str, chunks: dict[str, list[Chunk]]) -> None:
    cs = chunks[name]
    label = "Công văn /STTTT-TTBCXB"
    assert all(c.breadcrumb.startswith(label) for c in cs)
    header = cs[0]
    assert header.kind == "header" and "Kính gửi:" in header.text
    assert "Người ký: Mai Thoan" in header.context
    closing = next(c for c in cs if c.kind == "closing")
    assert "Nơi nhận:" in closing.text and closing.text.endswith("Mai Thoan")
    ii3 = next(c for c in cs if c.breadcrumb == f"{label} › II › 3.")
    assert "tránh đề cập các nước và các tổ chức quốc tế thu tin" in ii3.text
    assert ii3.section == "II" and "II. Tổ chức thực hiện" in ii3.context
    i1 = next(c for c in cs if c.breadcrumb == f"{label} › I › 1)")
    assert i1.kind == "item" and i1.text.endswith("phù hợp với chuẩn mực quốc tế.")  # its bullets included
    assert "- Luật Đường bộ và Luật Trật tự" in i1.text


@pytest.mark.parametrize("name", ["seed", "dispatch"])
def test_footnotes_in_chunks(name: str, chunks: dict[str, list[Chunk]]) -> None:
    cs = chunks[name]
    citing = {f.label: c for c in cs for f in c.footnotes}
    assert citing["1"].kind == "preamble"
    assert citing["2"].breadcrumb.endswith("› II › 1.")
    assert "[2] Theo mục 4, Điều 7, Thông tư số 03/2019/TT-BTTTT" in citing["2"].search_text()
    notes = [c for c in cs if c.kind == "footnote"]
    assert [c.breadcrumb for c in notes] == [
        "Công văn /STTTT-TTBCXB › Chú thích 1",
        "Công văn /STTTT-TTBCXB › Chú thích 2",
    ]
    assert "652/TTĐN-NVĐP" in notes[0].text


def test_chunk_counts(chunks: dict[str, list[Chunk]]) -> None:
    counts = {name: len(cs) for name, cs in chunks.items()}
    assert counts["seed"] == counts["dispatch"] == 14
    assert 89 < counts["luat-36"] < 700 and 86 < counts["luat-35"] < 700

"""Rendering of answers, citations, passages, documents and reports: markup is ours, text is escaped."""

from __future__ import annotations

from ui import render
from ui.i18n import EXAMPLES, LABELS, t

CIT = {"n": 1, "doc_id": "dispatch-stttt-ttbcxb", "chunk_id": "c1", "title": "Thông tin <tuyên truyền>",
       "number": "/STTTT-TTBCXB", "breadcrumb": "Công văn /STTTT-TTBCXB › II › 3.",
       "quote": "Chỉ đạo tuyên truyền",
       "start": 130, "end": 150, "doc_type": "công văn", "issued_date": "2024-07-30",
       "issuer": "Sở Thông tin và Truyền thông tỉnh Kon Tum"}


def test_markers_become_links_and_text_is_escaped() -> None:
    text = "Lead <b>x</b>:\n- Chỉ đạo *tuyên truyền* [1]\n- Hai nguồn [1, 2]"
    out = render.link_markers(text, 3, [CIT])
    assert '<a class="pq-cite" href="#src-3-1"' in out
    assert 'href="#src-3-2"' in out and out.count('class="pq-cite"') == 3
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert "\\*tuyên truyền\\*" in out  # Markdown emphasis from a passage is shown literally
    assert out.splitlines()[1].startswith("- Chỉ đạo")  # bullets stay a Markdown list
    assert 'title="Thông tin &lt;tuyên truyền&gt; › Công văn' in out


def test_abstention_looks_different_from_an_answer() -> None:
    answer = render.answer_markdown("Theo văn bản [1]", turn=0, citations=[CIT])
    abstain = render.answer_markdown("Các văn bản hiện có không trả lời được <câu hỏi>.", turn=0,
                                     abstained=True)
    assert "pq-abstain" in abstain and "pq-abstain" not in answer
    assert t("abstain_title") in abstain and "&lt;câu hỏi&gt;" in abstain
    assert "pq-cite" not in abstain


def test_passage_marks_the_quote_and_escapes_the_rest() -> None:
    passage = "\n3. UBND <các> huyện: Chỉ đạo tuyên truyền & đăng tải.\n"
    offset = 100
    start = offset + passage.index("Chỉ đạo")
    html = render.passage_html(passage, offset, start, start + len("Chỉ đạo tuyên truyền"))
    assert html == "3. UBND &lt;các&gt; huyện: <mark>Chỉ đạo tuyên truyền</mark> &amp; đăng tải."
    assert render.passage_html("abc", 0, 10, 12) == "abc"  # a span outside the passage marks nothing


def test_context_window_is_the_paragraph_around_the_quote() -> None:
    text = "Đoạn một.\n\nĐoạn hai có câu trích.\n\nĐoạn ba."
    start = text.index("câu trích")
    passage, offset = render.context_window(text, start, start + 9)
    assert passage == "Đoạn hai có câu trích." and text[offset:offset + len(passage)] == passage


def test_source_card_shows_metadata_passage_and_link() -> None:
    cit = {**CIT, "passage": "3. UBND: Chỉ đạo tuyên truyền trên đài.", "passage_start": 121}
    card = render.source_card(cit, turn=2, lang="vi")
    assert 'id="src-2-1"' in card
    for piece in ("…/STTTT-TTBCXB", "30/07/2024", "Sở Thông tin và Truyền thông tỉnh Kon Tum",
                  "Công văn /STTTT-TTBCXB › II › 3.", "<mark>Chỉ đạo tuyên truyền</mark>", "công văn"):
        assert piece in card
    assert "../ui-doc/dispatch-stttt-ttbcxb?lang=vi&amp;start=130&amp;end=150#passage" in card
    assert "&lt;tuyên truyền&gt;" in card
    missing = render.source_card({**CIT, "issued_date": None, "number": None}, turn=0, lang="en")
    assert "(no date)" in missing and "(no number)" in missing
    assert "<mark>Chỉ đạo tuyên truyền</mark>" in missing  # no passage: the quote alone, marked


def test_sources_panel_shows_only_the_current_answer() -> None:
    related = [{"doc_id": "d", "title": "T", "breadcrumb": "B", "text": "gần", "start": 0, "end": 3}]
    views = [{"question": "q0", "citations": [CIT]},
             {"question": "q1", "abstained": True, "related": related}]
    html = render.sources_html(views, None)
    assert html.count("pq-current") == 1 and 'data-turn="1"' in html
    assert 'class="pq-turn pq-current" data-turn="1"' in html
    assert t("related") in html and "pq-related" in html
    assert t("sources_empty") in render.sources_html([], None)
    assert t("sources_waiting") in render.sources_html([{"question": "q", "pending": True}], 0)


def test_documents_table_and_report() -> None:
    docs = [{"id": "a<b", "title": "Công văn <x>", "doc_type": "công văn", "number": "12/CV", "chunks": 14,
             "issued_date": None, "issuer": None}]
    html = render.documents_html(docs)
    assert "Công văn &lt;x&gt;" in html and "a%3Cb" in html and 'data-label="Số đoạn">14<' in html
    assert "1 văn bản, 14 đoạn" in html
    assert t("docs_empty") in render.documents_html([])
    report = {"documents": 2, "chunks": 20, "added": 6, "updated": 0, "removed": 0, "unchanged": 1,
              "failed": [{"path": "hong.pdf", "error": "could not read PDF: EOF marker not found"}],
              "warnings": []}
    md = render.report_markdown(report)
    assert "**2** văn bản" in md and "hong.pdf" in md and "EOF marker not found" in md
    assert t("report_failed") in md
    assert t("report_ok") in render.report_markdown({**report, "failed": []})
    rejected = render.report_markdown({"rejected": "x.zip: unsupported", "failed": []}, "en")
    assert "The server refused the upload" in rejected


def test_document_page_marks_and_anchors_the_passage() -> None:
    doc = {"title": "Công văn", "doc_type": "công văn", "number": "/STTTT-TTBCXB", "issued_date": None,
           "issuer": "Sở", "text": "Mở đầu <script>x</script>. Đoạn trích dẫn ở đây. Kết."}
    start = doc["text"].index("Đoạn trích")
    page = render.document_page(doc, start=start, end=start + len("Đoạn trích dẫn ở đây"))
    assert '<mark id="passage"' in page and ">Đoạn trích dẫn ở đây</mark>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<mark" not in render.document_page(doc, start=5, end=10_000)  # out of range: no mark
    assert t("doc_not_found", "en") in render.document_page(None, lang="en")


def test_every_label_exists_in_both_languages() -> None:
    assert set(LABELS["vi"]) == set(LABELS["en"])
    assert len(EXAMPLES["vi"]) == len(EXAMPLES["en"])
    assert t("tab_chat") == "Hỏi đáp" and t("tab_chat", "en") == "Ask" and t("tab_chat", "xx") == "Hỏi đáp"
    assert render.format_date("2024-07-30") == "30/07/2024"
    assert render.format_date("2024-07-30", "en") == "2024-07-30"

"""Hand-written model outputs through marker clean-up/attachment and the real verifier."""

from __future__ import annotations

from rag.answer.verify import Source, verify
from rag.llm.draft import attach_markers, best_source, clean_output, finish_draft
from rag.records import Chunk, DocumentMeta

TIP = ("- Ghi nhận “có sự gia tăng những nỗ lực tổng thể” đối với việc phòng chống nạn buôn người "
       "tại Việt Nam trong Báo cáo buôn người (TIP) năm 2023 của Mỹ (được công bố ngày 24/6/2024). "
       "Đây là năm thứ hai liên tiếp, thứ hạng của Việt Nam trong báo cáo thường niên về TIP "
       "của Bộ Ngoại giao Mỹ được cải thiện.")
LAW = ("- Luật BHXH sửa đổi được thông qua, có nhiều nội dung về quyền của người lao động, "
       "bảo đảm sự đồng bộ, thống nhất trong hệ thống pháp luật.")
PRELUDE = "Kính gửi: Các cơ quan báo chí tỉnh.\n"
DOC = PRELUDE + TIP + "\n" + LAW


def _sources() -> tuple[list[Source], dict[str, str]]:
    meta = DocumentMeta(title="V/v thông tin, tuyên truyền về quyền con người", doc_type="công văn",
                        number="/STTTT-TTBCXB")
    out = []
    for n, text, item in ((1, TIP, "2)"), (2, LAW, "1)")):
        crumb = f"Công văn /STTTT-TTBCXB › I › {item}"
        start = DOC.index(text)
        chunk = Chunk(id=f"c{n}", doc_id="cv", ordinal=n, text=text, start=start, end=start + len(text),
                      breadcrumb=crumb, kind="item")
        out.append(Source(n=n, chunk=chunk, meta=meta))
    return out, {"cv": DOC}


def _check(draft: str) -> tuple[str, object]:
    sources, docs = _sources()
    prepared = finish_draft(draft, sources)
    return prepared, verify(prepared, sources, docs)


def test_supported_sentence_keeps_its_citation_with_exact_quote() -> None:
    _, v = _check("Báo cáo buôn người (TIP) năm 2023 của Mỹ được công bố ngày 24/6/2024 [1].")
    assert v.kept == 1 and v.removed == 0
    c = v.citations[0]
    assert DOC[c.start:c.end] == c.quote and "24/6/2024" in c.quote
    assert v.text.endswith("[1]")


def test_out_of_range_marker_is_dropped() -> None:
    _, v = _check("Luật BHXH sửa đổi được thông qua, có nhiều nội dung về quyền của người lao động [7].")
    assert v.citations == () and v.removed == 1


def test_out_of_range_marker_dropped_but_valid_one_kept() -> None:
    _, v = _check("Luật BHXH sửa đổi được thông qua, có nhiều nội dung về quyền của người lao động [2][9].")
    assert v.kept == 1 and len(v.citations) == 1 and "[9]" not in v.text
    assert "quyền của người lao động" in v.citations[0].quote


def test_wrong_number_is_removed() -> None:
    draft = ("Báo cáo buôn người (TIP) năm 2023 của Mỹ được công bố ngày 25/6/2024 [1]. "
             "Luật BHXH sửa đổi được thông qua, có nhiều nội dung về quyền của người lao động [2].")
    _, v = _check(draft)
    assert "25/6/2024" not in v.text and v.removed == 1
    assert v.kept == 1 and "người lao động" in v.text


def test_wrong_source_number_is_not_rescued() -> None:
    # Cited the law passage for the TIP claim: the claim is not in passage 2, so it goes.
    _, v = _check("Báo cáo buôn người (TIP) năm 2023 của Mỹ được công bố ngày 24/6/2024 [2].")
    assert v.citations == ()


def test_missing_marker_is_attached_then_verified() -> None:
    draft = ("Đây là năm thứ hai liên tiếp thứ hạng của Việt Nam trong báo cáo thường niên về TIP "
             "được cải thiện. Luật BHXH sửa đổi có nhiều nội dung về quyền của người lao động.")
    prepared, v = _check(draft)
    assert "cải thiện. [1]" in prepared and "lao động. [2]" in prepared
    assert v.kept == 2 and v.removed == 0 and len(v.citations) == 2


def test_unrelated_sentence_gets_no_marker_and_is_removed() -> None:
    draft = "Chính phủ sẽ tăng lương cơ sở cho công chức từ tháng 7. Luật BHXH sửa đổi được thông qua [2]."
    prepared, v = _check(draft)
    assert prepared.startswith("Chính phủ sẽ tăng lương cơ sở cho công chức từ tháng 7.")
    assert "7. [" not in prepared
    assert v.removed == 1 and v.kept == 1


def test_attached_marker_still_needs_numbers_in_the_passage() -> None:
    # Word coverage attaches [1], but the year is wrong, so the verifier still removes the sentence.
    prepared, v = _check("Báo cáo buôn người (TIP) năm 2022 của Mỹ được công bố ngày 24/6/2024.")
    assert prepared.endswith("[1]")
    assert v.citations == ()


def test_lead_in_lines_stay_unmarked() -> None:
    sources, _ = _sources()
    draft = "Theo công văn:\n- Luật BHXH sửa đổi có nhiều nội dung về quyền của người lao động."
    text = attach_markers(draft, sources)
    assert text.split("\n")[0] == "Theo công văn:"
    assert text.split("\n")[1].startswith("- Luật BHXH") and text.endswith("[2]")


def test_english_answer_with_vietnamese_quotes_survives() -> None:
    draft = ("The dispatch says the TIP report was published on:\n"
             "Báo cáo buôn người (TIP) năm 2023 của Mỹ (được công bố ngày 24/6/2024) [1]")
    _, v = _check(draft)
    assert v.kept == 1
    assert v.text.startswith("The dispatch says the TIP report was published on:")


def test_clean_output_normalises_markers_markdown_and_reasoning() -> None:
    raw = "<think>cần xem nguồn 1</think>**Luật BHXH** sửa đổi được thông qua [Nguồn 2]. Xem [1-2]."
    assert clean_output(raw) == "Luật BHXH sửa đổi được thông qua [2]. Xem [1, 2]."


def test_best_source_ignores_short_fragments() -> None:
    sources, _ = _sources()
    assert best_source("Có.", sources) is None
    found = best_source("quyền của người lao động được bảo đảm", sources)
    assert found is not None and found[0] == 2


def test_recited_instructions_questions_and_repeats_are_pruned() -> None:
    from rag.llm.prompt import scaffolding

    sources, docs = _sources()
    raw = ("Bạn là trợ lý trả lời câu hỏi về văn bản hành chính và pháp luật Việt Nam.\n"
           "Quy tắc bắt buộc:\n"
           "2. Sau mỗi câu khẳng định, ghi số của nguồn đã dùng trong ngoặc vuông, ví dụ [1] hoặc [2][3].\n"
           "Luật BHXH sửa đổi được thông qua khi nào?\n"
           "Luật BHXH sửa đổi có nhiều nội dung về quyền của người lao động [2].\n"
           "Luật BHXH sửa đổi có nhiều nội dung về quyền của người lao động [2].")
    prepared = finish_draft(raw, sources, echo=scaffolding("vi", sources))
    assert prepared == "Luật BHXH sửa đổi có nhiều nội dung về quyền của người lao động [2]."
    v = verify(prepared, sources, docs)
    assert v.kept == 1 and v.text.count("người lao động") == 1


def test_common_syllables_alone_do_not_earn_a_marker() -> None:
    # Word by word this shares "về", "văn", "và", "pháp luật", "Việt Nam"… with the passages; pair by pair
    # almost nothing, so no marker is attached and the verifier removes the sentence.
    sentence = "Bạn là trợ lý trả lời câu hỏi về văn bản hành chính và pháp luật Việt Nam."
    prepared, v = _check(sentence)
    assert prepared == sentence and v.citations == ()


def test_recited_source_labels_and_headers_are_pruned() -> None:
    from rag.llm.prompt import scaffolding

    sources, docs = _sources()
    # Seen from Gemma 270M: the labels and header lines of the prompt's data block, one of which shares
    # enough syllables with a passage to pass a word-coverage check.
    raw = ("Các nguồn:\nSố hiệu: /STTTT-TTBCXB\nVăn bản: Công văn — V/v thông tin, tuyên truyền về quyền con người\n"
           "Nội dung:\nLuật BHXH sửa đổi có nhiều nội dung về quyền của người lao động [2].")
    prepared = finish_draft(raw, sources, echo=scaffolding("vi", sources))
    assert prepared == "Luật BHXH sửa đổi có nhiều nội dung về quyền của người lao động [2]."
    assert verify(prepared, sources, docs).kept == 1


def test_a_reply_cut_by_the_token_limit_loses_its_unfinished_sentence() -> None:
    from rag.llm.draft import drop_unfinished

    # An unfinished fragment is still an exact substring of the passage, so it would verify.
    raw = "Luật BHXH sửa đổi có nhiều nội dung về quyền của người lao động [2]. Đây là năm thứ hai liên"
    assert drop_unfinished(raw) == "Luật BHXH sửa đổi có nhiều nội dung về quyền của người lao động [2]."
    sources, docs = _sources()
    assert verify(finish_draft("Đây là năm thứ hai liên", sources), sources, docs).kept == 1
    assert drop_unfinished("Đây là năm thứ hai liên") == ""
    assert drop_unfinished("Câu một [1]\nCâu hai [2]") == "Câu một [1]\nCâu hai [2]"

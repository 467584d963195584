"""Query understanding, fusion and the verifier: pure logic."""

from __future__ import annotations

from rag.answer.evidence import content_terms, coverage, missing_need
from rag.answer.extractive import obligations_actor
from rag.answer.verify import Source, numbers_in, split_sentences, verify
from rag.query import condense, detect_language, expand_abbreviations, understand, untranslated
from rag.records import Chunk, DocumentMeta, Turn
from rag.retrieve import fuse_rrf, fuse_weighted
from rag.store.lexical import analyze


def test_abbreviations_expand_both_ways() -> None:
    assert "Ủy ban nhân dân" in expand_abbreviations("UBND huyện làm gì")
    assert "Ủy ban nhân dân" in expand_abbreviations("ubnd huyen lam gi")
    assert "UBND" in expand_abbreviations("Ủy ban nhân dân huyện làm gì")
    assert "Bảo hiểm xã hội" in expand_abbreviations("Luật BHXH sửa đổi")
    assert "thông tin điện tử" in expand_abbreviations("Trang TTĐT")
    assert "Bộ đội Biên phòng" in expand_abbreviations("BDBP cung cấp gì")
    assert expand_abbreviations("không có viết tắt") == "không có viết tắt"


def test_accent_folding_meets_in_the_index() -> None:
    accented = set(analyze("Công văn yêu cầu UBND"))
    plain = set(analyze("cong van yeu cau ubnd"))
    assert {"~cong", "~van", "~yeu", "~cau", "~ubnd"} <= accented & plain


def test_reference_detection() -> None:
    info = understand("Điều 10 Luật 36/2024/QH15 quy định gì?")
    assert info.numbers == ("36/2024/QH15",) and info.article == "10"
    info = understand("khoản 2 Điều 5 nói gì")
    assert (info.article, info.clause) == ("5", "2")
    assert understand("Văn bản 652/ttđn-nvđp nói về gì").numbers == ("652/TTĐN-NVĐP",)
    assert understand("Ngày 30/7/2024 có gì").numbers == ()


def test_language_detection() -> None:
    assert detect_language("What must district People's Committees do?") == "en"
    assert detect_language("UBND huyen phai lam gi") == "vi"
    assert detect_language("Ủy ban nhân dân phải làm gì?") == "vi"
    # an English question that quotes the Vietnamese term is English; a Vietnamese one with an English word is not
    assert detect_language("What is an expressway (đường cao tốc) under the 2024 Road Law?") == "en"
    assert detect_language("Luật quy định thế nào về drone và flycam?") == "vi"


def test_follow_up_rewrite_uses_only_conversation_words() -> None:
    history = [Turn("user", "Các cơ quan báo chí phải làm gì?"), Turn("assistant", "… [1]")]
    assert condense("Còn UBND huyện thì sao?", history) == "UBND huyện phải làm gì?"
    rewritten = condense("Còn Điều 5 thì sao?", [Turn("user", "Luật Đường bộ quy định gì về trẻ em?")])
    assert "5" in rewritten and not set(numbers_in(rewritten)) - {"5"}
    assert condense("Câu hỏi độc lập đầy đủ về báo chí?", history) == "Câu hỏi độc lập đầy đủ về báo chí?"


def test_obligations_actor() -> None:
    assert obligations_actor("UBND các huyện, thành phố phải làm gì?") == "UBND các huyện, thành phố"
    long_name = "Cổng thông tin điện tử tỉnh và trang TTĐT các sở, ban, ngành"  # 13 words
    assert obligations_actor(f"{long_name} có trách nhiệm gì theo công văn?") == long_name
    assert obligations_actor("Nhiệm vụ của Đài Phát thanh – Truyền hình tỉnh là gì?") == \
        "Đài Phát thanh – Truyền hình tỉnh"
    assert obligations_actor("What must the district People's Committees do?") == "district People's Committees"
    assert obligations_actor("Công văn ban hành ngày nào?") is None


def test_fusion() -> None:
    dense = {"a": 0.9, "b": 0.8, "c": 0.7}
    lexical = {"b": 10.0, "d": 5.0}
    w = fuse_weighted(dense, lexical, 0.5)
    assert max(w, key=w.get) == "b"
    assert w["a"] == 0.5 and w["d"] == 0.25
    r = fuse_rrf([dense, lexical], k=60)
    assert max(r, key=r.get) == "b"
    assert abs(r["b"] - (1 / 62 + 1 / 61)) < 1e-12


def test_coverage_and_needs() -> None:
    idf = {"~phat": 3.0, "~bao": 1.0, "~chi": 1.0}
    terms = content_terms("Mức phạt đối với báo chí là bao nhiêu?")
    assert "phat" in terms and "gi" not in terms
    assert coverage(["phat", "bao", "chi"], {"bao", "chi"}, idf) == 2 / 5
    assert missing_need("Mức phạt là bao nhiêu?", ["Tuyên truyền về quyền con người"]) == "money"
    assert missing_need("Mức phạt là bao nhiêu?", ["phạt tiền từ 1.000.000 đồng"]) is None
    assert missing_need("Thời hạn nộp báo cáo?", ["không có ngày"]) == "deadline"


def _source(text: str, n: int = 1) -> Source:
    chunk = Chunk(id=f"c{n}", doc_id="d", ordinal=0, text=text, start=100, end=100 + len(text),
                  breadcrumb="Công văn › II", kind="item")
    return Source(n=n, chunk=chunk, meta=DocumentMeta(title="Công văn", number="12/CV-X"))


def test_verifier_keeps_supported_and_drops_the_rest() -> None:
    passage = "Quốc hội đã thông qua 10 dự án luật tại kỳ họp thứ 7. Báo cáo được công bố ngày 24/6/2024."
    doc = " " * 100 + passage
    src = _source(passage)
    draft = "\n".join([
        "Theo các văn bản đã lưu:",
        "- Quốc hội đã thông qua 10 dự án luật tại kỳ họp thứ 7 [1]",
        "- Quốc hội đã thông qua 12 dự án luật tại kỳ họp thứ 7 [1]",  # wrong number
        "- Báo cáo được công bố ngày 24/6/2024 [3]",  # marker out of range
        "- Một câu không có trích dẫn.",
    ])
    result = verify(draft, [src], {"d": doc})
    assert result.removed == 3 and result.kept == 1
    assert "12 dự án" not in result.text and "[1]" in result.text
    (cit,) = result.citations
    assert doc[cit.start:cit.end] == cit.quote == "Quốc hội đã thông qua 10 dự án luật tại kỳ họp thứ 7"


def test_verifier_fuzzy_quote_and_dates() -> None:
    passage = "Công văn số 08/CV-VPTT ngày 30/7/2024 của Ban Chỉ đạo về Nhân quyền của tỉnh."
    src = _source(passage)
    ok = verify("Ban Chỉ đạo về Nhân quyền của tỉnh ban hành Công văn 08/CV-VPTT ngày 30/7/2024 [1].",
                [src], {"d": " " * 100 + passage})
    assert ok.kept == 1 and ok.citations[0].quote == passage
    bad = verify("Ban Chỉ đạo về Nhân quyền của tỉnh ban hành Công văn 09/CV-VPTT ngày 30/7/2024 [1].",
                 [src], {"d": " " * 100 + passage})
    assert bad.kept == 0 and bad.removed == 1


def test_sentence_spans() -> None:
    text = "Câu một. Câu hai!\n- Gạch đầu dòng;\n\nCuối"
    spans = [text[s:e] for s, e in split_sentences(text)]
    assert spans == ["Câu một.", "Câu hai!", "Gạch đầu dòng;", "Cuối"]


def test_verifier_rejects_questions_and_loose_paraphrases() -> None:
    passage = ("Trên cơ sở chỉ đạo, định hướng của Trung ương và của tỉnh, Sở Thông tin và Truyền thông đề nghị "
               "các cơ quan báo chí tỉnh;")
    src = _source(passage)
    docs = {"d": " " * 100 + passage}
    # Shares many syllables with the passage but says something it does not (a real small-LLM output).
    loose = verify("Cơ quan ban hành: Sở Thông tin và Truyền thông tỉnh Kon Tum [1].", [src], docs)
    assert loose.kept == 0
    echoed = verify("Sở Thông tin và Truyền thông đề nghị các cơ quan báo chí tỉnh làm gì? [1]", [src], docs)
    assert echoed.kept == 0
    paraphrase = verify("Sở Thông tin và Truyền thông đề nghị các cơ quan báo chí tỉnh, trên cơ sở chỉ đạo "
                        "của Trung ương [1].", [src], docs)
    assert paraphrase.kept == 1


def test_what_the_glossary_translates_is_not_left_to_find_in_english() -> None:
    left = untranslated("How much is the fine for running a red light on a motorbike?")
    assert "red" not in left.split() and "light" not in left.split() and "motorbike" not in left.split()
    assert "running" in left.split()

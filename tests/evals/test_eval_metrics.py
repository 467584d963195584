"""Metric functions against hand-computed cases; relevance matching; dataset validation."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from evals import metrics as m
from evals.alqac import ArticleOutcome, rank_articles, summarize_articles
from evals.baselines import article_at, article_starts
from evals.dataset import DatasetError, RelevantRef, load_dataset, parse_item
from evals.relevance import Passage, doc_matches, is_relevant
from evals.report import format_table, rank_category, ratio_rows
from evals.run import Outcome, Response, score_response, summarize

REPO = Path(__file__).resolve().parents[2]


# ---- ranking metrics ------------------------------------------------------------------------


def test_first_relevant_rank() -> None:
    assert m.first_relevant_rank([False, False, True, True]) == 3
    assert m.first_relevant_rank([True]) == 1
    assert m.first_relevant_rank([False, False]) is None
    assert m.first_relevant_rank([]) is None


def test_hit_at_k_and_reciprocal_rank() -> None:
    assert m.hit_at(1, 1) == 1.0 and m.hit_at(2, 1) == 0.0
    assert m.hit_at(5, 5) == 1.0 and m.hit_at(6, 5) == 0.0
    assert m.hit_at(None, 10) == 0.0
    assert m.reciprocal_rank(4) == 0.25
    assert m.reciprocal_rank(10, 10) == pytest.approx(0.1)
    assert m.reciprocal_rank(11, 10) == 0.0
    assert m.reciprocal_rank(None) == 0.0


def test_retrieval_summary_by_hand() -> None:
    # ranks 1, 3, 7, none: hit@1 = 1/4, hit@5 = 2/4, hit@10 = 3/4, mrr = (1 + 1/3 + 1/7 + 0) / 4
    s = m.retrieval_summary([1, 3, 7, None])
    assert s["hit@1"] == 0.25 and s["hit@5"] == 0.5 and s["hit@10"] == 0.75
    assert s["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)
    empty = m.retrieval_summary([])
    assert all(v is None for v in empty.values())


def test_dedupe_keeps_first_occurrence() -> None:
    assert m.dedupe(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]


# ---- ALQAC F2 ---------------------------------------------------------------------------------


def test_f2_per_question_by_hand() -> None:
    assert m.f2_score(["a"], ["a"]) == 1.0
    assert m.f2_score(["b"], ["a"]) == 0.0
    assert m.f2_score([], ["a"]) == 0.0
    # P = 1/2, R = 1: F2 = 5 * 0.5 * 1 / (4 * 0.5 + 1) = 2.5 / 3
    assert m.f2_score(["a", "b"], ["a"]) == pytest.approx(2.5 / 3)
    # P = 1, R = 1/2: F2 = 5 * 0.5 / (4 + 0.5) = 2.5 / 4.5
    assert m.f2_score(["a"], ["a", "b"]) == pytest.approx(2.5 / 4.5)
    # P = 1/5, R = 1: F2 = 1 / (0.8 + 1) = 5/9
    assert m.f2_score(list("abcde"), ["c"]) == pytest.approx(5 / 9)


def test_macro_f2_averages_per_question_scores() -> None:
    pairs = [(["a"], ["a"]), (["a", "b"], ["a"]), (["x"], ["y"])]
    assert m.macro_f2(pairs) == pytest.approx((1 + 2.5 / 3 + 0) / 3)
    assert m.macro_f2([]) is None


def test_article_level_summary_by_hand() -> None:
    law = "Luật Thanh niên"
    outcomes = [
        ArticleOutcome("q1", ((law, "1"),), ((law, "1"), (law, "2")), 10.0),  # rank 1
        ArticleOutcome("q2", ((law, "5"),), ((law, "1"), (law, "5")), 20.0),  # rank 2
        ArticleOutcome("q3", ((law, "9"),), ((law, "1"),), 30.0),  # miss
    ]
    s = summarize_articles(outcomes, f2_k=2)
    assert s["n"] == 3
    assert s["hit@1"] == pytest.approx(1 / 3, abs=1e-4) and s["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["mrr@10"] == pytest.approx((1 + 0.5) / 3, abs=1e-4)
    assert s["f2@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["f2@2"] == pytest.approx((2.5 / 3 + 2.5 / 3 + 0) / 3, abs=1e-4)
    assert s["latency_ms_p50"] == 20.0


def test_rank_articles_merges_chunks_in_first_occurrence_order() -> None:
    passages = [Passage("x", ("d1",), "3"), Passage("x", ("d1",), "3"), Passage("x", ("d2",), None),
                Passage("x", ("d2",), "1"), Passage("x", ("d1",), "4")]
    laws = {"d1": "A", "d2": "B"}
    ranked = rank_articles(passages, lambda p: laws[p.doc_names[0]], depth=2)
    assert ranked == [("A", "3"), ("B", "1")]


# ---- abstention, percentiles ---------------------------------------------------------------------


def test_abstention_scores_by_hand() -> None:
    abstained = [True, True, False, False, True]
    answerable = [False, True, False, True, True]
    s = m.abstention_scores(abstained, answerable)
    assert s["abstain_precision"] == pytest.approx(1 / 3)  # 1 right abstention of 3
    assert s["abstain_recall"] == pytest.approx(1 / 2)  # 1 of 2 unanswerable questions


def test_abstention_zero_denominators() -> None:
    never = m.abstention_scores([False, False], [True, False])
    assert never == {"abstain_precision": None, "abstain_recall": 0.0}
    all_answerable = m.abstention_scores([True, False], [True, True])
    assert all_answerable == {"abstain_precision": 0.0, "abstain_recall": None}
    assert m.abstention_scores([], []) == {"abstain_precision": None, "abstain_recall": None}


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert m.percentile(values, 50) == 25.0
    assert m.percentile(values, 95) == pytest.approx(38.5)
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([], 50) is None


# ---- relevance matching ----------------------------------------------------------------------------


def _item(**kw: object):  # noqa: ANN202
    return parse_item({"id": "q", "question": "?", **kw})


def test_relevance_ignores_case_whitespace_and_unicode_form() -> None:
    item = _item(evidence=["Luật Bảo hiểm xã hội"])
    nfd = unicodedata.normalize("NFD", "… trong đó có LUẬT  BẢO HIỂM\nxã   hội (BHXH) …")
    assert is_relevant(Passage(nfd, ()), item)
    assert not is_relevant(Passage("Luật Bảo hiểm y tế", ()), item)


def test_relevance_accepts_either_tone_mark_placement() -> None:
    item = _item(evidence=["Cộng hoà xã hội"])
    assert is_relevant(Passage("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", ()), item)


def test_relevance_by_document_and_article() -> None:
    item = _item(relevant=[{"doc": "36/2024/QH15", "article": "10"},
                           {"doc": "Luật Đường bộ", "article": "2"}])
    names = ("luat-36", "Luật Trật tự, an toàn giao thông đường bộ", "36/2024/QH15")
    assert is_relevant(Passage("…", names, "10"), item)
    assert not is_relevant(Passage("…", ("luat-36", "", "36/2024/QH15"), "11"), item)
    assert is_relevant(Passage("…", ("luat-35", "LUẬT  ĐƯỜNG BỘ", "35/2024/QH15"), "2"), item)
    assert not is_relevant(Passage("…", ("luat-35", "Luật Đường bộ", ""), None), item)


def test_relevance_whole_document_when_article_is_omitted() -> None:
    item = _item(relevant=[{"doc": "652/TTĐN-NVĐP"}])
    assert is_relevant(Passage("…", ("x", "Văn bản", "652/ttđn-nvđp")), item)
    assert doc_matches("Số: 652/TTĐN-NVĐP", ["652/TTĐN-NVĐP"])
    assert not doc_matches("652/TTĐN-NVĐP", ["", "653/TTĐN-NVĐP"])


# ---- scoring one response, summarising several ----------------------------------------------------------


def test_score_response_and_summary_by_hand() -> None:
    good = Passage("có nhiều nội dung về quyền của người lao động", ("d",), key="c1")
    other = Passage("văn bản khác", ("d",), key="c2")
    q1 = _item(id="q1", evidence=["quyền của người lao động"], answer_contains=["người lao động", "BHXH"])
    q2 = _item(id="q2", answerable=False)
    o1 = score_response(q1, Response(ranking=(other, good), citations=(good, other),
                                     text="Quyền của NGƯỜI LAO ĐỘNG [1]"), 100.0)
    got = (o1.rank, o1.citations, o1.relevant_citations, o1.contains_found, o1.contains_total)
    assert got == (2, 2, 1, 1, 2)
    o2 = score_response(q2, Response(ranking=(other,), citations=(), abstained=True, text="Không có."), 300.0)
    s = summarize([o1, o2])
    assert s["n"] == 2 and s["answerable"] == 1
    assert s["hit@1"] == 0.0 and s["hit@5"] == 1.0 and s["mrr@10"] == 0.5
    assert s["citation_precision"] == 0.5 and s["citation_recall"] == 1.0
    assert s["answer_contains"] == 0.5
    assert s["abstain_precision"] == 1.0 and s["abstain_recall"] == 1.0
    assert s["latency_ms_p50"] == 200.0 and s["latency_ms_p95"] == 290.0


def test_retrieval_only_system_has_no_answer_metrics() -> None:
    o = Outcome("q", True, 1, 1, 1, 0, 2, False, 5.0, has_text=False)
    s = summarize([o])
    assert s["answer_contains"] is None and s["abstain_precision"] is None and s["abstain_recall"] is None


# ---- dataset loader --------------------------------------------------------------------------------------


def test_loader_reports_line_numbers(tmp_path: Path) -> None:
    good = json.dumps({"id": "a", "question": "?", "evidence": ["x"]})
    path = tmp_path / "d.jsonl"
    path.write_text(f"{good}\n\n{{not json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"d\.jsonl:3: invalid JSON"):
        load_dataset(path)
    bad = json.dumps({"id": "b", "question": "?", "evidence": "x"})
    path.write_text(f"{good}\n{bad}\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r":2: 'evidence' must be a list"):
        load_dataset(path)
    path.write_text(f"{good}\n{good}\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r":2: duplicate id 'a' \(first on line 1\)"):
        load_dataset(path)


@pytest.mark.parametrize("line, message", [
    ({"question": "?"}, "'id' must be a non-empty string"),
    ({"id": "a", "question": "?", "answerable": "yes"}, "'answerable' must be true or false"),
    ({"id": "a", "question": "?"}, "needs 'evidence' or 'relevant'"),
    ({"id": "a", "question": "?", "answerable": False, "evidence": ["x"]}, "cannot have 'evidence'"),
    ({"id": "a", "question": "?", "relevant": [{"article": "3"}]}, "non-empty string 'doc'"),
    ({"id": "a", "question": "?", "evidence": ["x"], "history": [{"role": "bot", "content": "hi"}]}, "role"),
    ({"id": "a", "question": "?", "evidence": ["x"], "colour": 1}, "unknown keys"),
    ([1, 2], "JSON object"),
])
def test_parse_item_rejects(line: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_item(line)


def test_parse_item_defaults_and_history() -> None:
    item = parse_item({"id": "a", "question": "Còn UBND?", "relevant": [{"doc": "X", "article": 7}],
                       "history": [{"role": "user", "content": "Đài tỉnh làm gì?"}]})
    assert item.answerable is True and item.relevant == (RelevantRef("X", "7"),)
    assert item.history[0].role == "user" and item.history[0].content == "Đài tỉnh làm gì?"


def test_seed_dataset_meets_the_brief() -> None:
    items = load_dataset(REPO / "evals" / "datasets" / "seed_dispatch.jsonl")
    tags = [t for it in items for t in it.tags]
    assert len(items) >= 40
    assert sum(not it.answerable for it in items) >= 10
    assert tags.count("no-diacritics") >= 5 and tags.count("english") >= 4
    assert sum(1 for it in items if it.history) >= 3
    for word in ("UBND", "BHXH", "TTĐT", "BDBP"):
        assert any(word in it.question for it in items), word


# ---- helpers of the baselines and the report ---------------------------------------------------------------


def test_article_starts_and_lookup() -> None:
    text = "Lời nói đầu\nĐiều 1. Phạm vi\nnội dung\nĐiều 2.\nthân\n  Điều 10: Hiệu lực\n"
    starts = article_starts(text)
    assert [n for _, n in starts] == ["1", "2", "10"]
    assert article_at(starts, 0) is None
    assert article_at(starts, text.index("nội dung")) == "1"
    assert article_at(starts, text.index("thân")) == "2"
    assert article_at(starts, len(text) - 1) == "10"


def test_report_helpers() -> None:
    cats = [rank_category(r) for r in (1, 3, 10, 11, None)]
    assert cats == ["rank 1", "rank 2-5", "rank 6-10", "miss", "miss"]
    rows = [{"system": "ours", "hit@1": 0.8, "n": 10}, {"system": "bm25", "hit@1": 0.4, "n": 10},
            {"system": "zero", "hit@1": 0.0, "n": 10}]
    ratios = ratio_rows(rows, ["hit@1"])
    assert ratios == [{"system": "ours / bm25", "hit@1": 2.0}, {"system": "ours / zero", "hit@1": None}]
    table = format_table(rows, ["n", "hit@1"])
    assert table.splitlines()[0].split() == ["system", "n", "hit@1"] and "0.800" in table

"""ALQAC conversion, question loading and caching; `policyqa eval-alqac` on a two-law subset."""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.alqac import (
    cache_key,
    law_body,
    law_markdown,
    load_law,
    load_questions,
    plain_bm25,
    write_converted,
)
from evals.baselines import article_at, article_starts
from ingest.load import load_bytes
from ingest.parse.document import parse_document
from tests.conftest import SHARED, make_settings

ALQAC = SHARED / "data" / "alqac2025"
SUBSET = ["Luật Thanh niên", "Luật Tiếp cận thông tin"]
ROWS = ["policyqa", "bm25", "dense", "langchain", "untrained", "untrained-dense"]  # + the bundled weights


def _write_law(folder: Path, name: str, articles: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(articles, ensure_ascii=False), encoding="utf-8")
    return path


def test_law_conversion_with_titles_nfc_and_a_title_only_article(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Phạm vi điều chỉnh\nLuật này quy định về giáo dục.")
    law = load_law(_write_law(tmp_path, "Luật Giáo dục", [{"1": decomposed}, {"2": "Mục tiêu giáo dục"}]))
    assert law.law_id == "Luật Giáo dục"
    titles = [(a.article_id, a.title) for a in law.articles]
    assert titles == [("1", "Phạm vi điều chỉnh"), ("2", "Mục tiêu giáo dục")]
    assert law.articles[1].body == ""
    md = law_markdown(law)
    assert md.startswith('---\ntitle: "Luật Giáo dục"\ndoc_type: luật\n---\n')
    assert "Điều 1. Phạm vi điều chỉnh\nLuật này quy định về giáo dục." in md
    assert "Điều 2. Mục tiêu giáo dục\n" in md
    assert unicodedata.is_normalized("NFC", md)


def test_constitution_articles_have_no_titles(tmp_path: Path) -> None:
    law = load_law(_write_law(tmp_path, "Hiến pháp", [
        {"1": "Nước Cộng hòa xã hội chủ nghĩa Việt Nam là một nước độc lập."},
        {"2": "1. Nhà nước là nhà nước pháp quyền xã hội chủ nghĩa.\n\n2. Quyền lực nhà nước là thống nhất."},
    ]))
    assert all(a.title == "" for a in law.articles)
    assert law_body(law).startswith("Điều 1.\nNước Cộng hòa")
    starts = article_starts(law_body(law))
    assert [n for _, n in starts] == ["1", "2"]
    assert article_at(starts, law_body(law).index("Quyền lực")) == "2"


def test_converted_law_parses_into_its_articles(tmp_path: Path) -> None:
    law = load_law(ALQAC / "laws" / "Luật Thanh niên.json")
    parsed = parse_document(load_bytes(law_markdown(law).encode(), "Luật Thanh niên.md"), "luat-thanh-nien")
    assert parsed.meta.title == "Luật Thanh niên"
    labels = [u.label for u in parsed.units if u.kind == "dieu"]
    assert labels == [f"Điều {a.article_id}" for a in law.articles]


def test_plain_bm25_reference_ranks_whole_articles(tmp_path: Path) -> None:
    law = load_law(_write_law(tmp_path, "Luật Y", [
        {"1": "Phạm vi điều chỉnh\nLuật này quy định về thanh niên."},
        {"2": "Tuổi thanh niên\nThanh niên là công dân từ đủ 16 tuổi đến 30 tuổi."},
        {"3": "Hiệu lực\nLuật có hiệu lực từ năm 2021."},
    ]))
    retrieve = plain_bm25([law])
    assert retrieve("Thanh niên là công dân bao nhiêu TUỔI?")[0] == ("Luật Y", "2")
    assert retrieve("hiệu lực") == [("Luật Y", "3")]
    assert retrieve("xyz qwerty") == []


def test_questions_are_filtered_to_the_loaded_laws() -> None:
    everything, skipped = load_questions(ALQAC / "train.json")
    assert len(everything) == 729 and skipped == 0
    subset, skipped = load_questions(ALQAC / "train.json", SUBSET)
    assert len(subset) == 15 + 74 and skipped == 729 - len(subset)
    assert all(law in SUBSET for q in subset for law, _ in q.gold)
    assert all(unicodedata.is_normalized("NFC", q.text) for q in everything)


def test_cache_key_follows_content_and_converted_files_are_stable(tmp_path: Path) -> None:
    law = load_law(_write_law(tmp_path / "a", "Luật X", [{"1": "Tên\nNội dung."}]))
    changed = load_law(_write_law(tmp_path / "b", "Luật X", [{"1": "Tên\nNội dung khác."}]))
    assert cache_key([law], "m") == cache_key([law], "m")
    assert cache_key([law], "m") != cache_key([changed], "m")
    assert cache_key([law], "m") != cache_key([law], "other-model")
    names = write_converted([law], tmp_path / "out")
    path = tmp_path / "out" / "Luật X.md"
    stamp = path.stat().st_mtime_ns
    assert write_converted([law], tmp_path / "out") == names == {"Luật X.md": "Luật X"}
    assert path.stat().st_mtime_ns == stamp  # unchanged content is not rewritten, so ingest skips it


@pytest.mark.slow
def test_eval_alqac_subset_compare_is_cached_and_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             embedder) -> None:  # noqa: ANN001
    from policyqa.cli import app
    from policyqa.context import CliContext

    laws = tmp_path / "laws"
    laws.mkdir()
    for name in SUBSET:
        shutil.copy(ALQAC / "laws" / f"{name}.json", laws / f"{name}.json")
    state = CliContext(settings=make_settings(tmp_path / "data"), make_embedder=lambda settings: embedder)
    args = ["eval-alqac", "--laws", str(laws), "--questions", str(ALQAC / "train.json"), "--limit", "5",
            "--compare", "--json"]
    runs = []
    for _ in range(2):
        result = CliRunner().invoke(app, args, catch_exceptions=False, obj=state)
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout))
    first, second = runs
    assert [r["system"] for r in first["rows"]] == ROWS
    assert first["n"] == 5 and first["laws"] == 2 and first["skipped_questions"] == 729 - 89
    for key in ("hit@1", "hit@5", "hit@10", "mrr@10", "f2@1", "f2@5", "latency_ms_p50", "latency_ms_p95"):
        assert all(key in row for row in first["rows"]), key
    assert first["ingest"]["added"] > 0
    assert second["ingest"]["added"] == 0 and second["ingest"]["unchanged"] == 2
    assert second["cache"] == first["cache"] and str(tmp_path) in first["cache"]
    quality = ("hit@1", "hit@5", "hit@10", "mrr@10", "f2@1", "f2@5")
    numbers = [[{k: r[k] for k in quality} for r in run["rows"]] for run in (first, second)]
    assert numbers[0] == numbers[1]


def test_eval_alqac_rejects_an_unknown_split() -> None:
    from policyqa.cli import app

    result = CliRunner().invoke(app, ["eval-alqac", "--split", "test"])
    assert result.exit_code == 2 and "--split must be all, train or dev" in result.output

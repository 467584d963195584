"""`policyqa eval` end to end on the real corpus with the real embedder, writing only under tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.dataset import load_dataset
from evals.relevance import chunk_passage, is_relevant
from tests.conftest import CORPUS, REPO, make_settings

SEED = REPO / "evals" / "datasets" / "seed_dispatch.jsonl"
KEYS = ["n", "hit@1", "hit@5", "hit@10", "mrr@10", "citation_precision", "citation_recall", "answer_contains",
        "abstain_precision", "abstain_recall", "latency_ms_p50", "latency_ms_p95"]
QUALITY = [k for k in KEYS if not k.startswith("latency")]

SMALL = [
    {"id": "laws", "question": "Tại kỳ họp thứ 7, Quốc hội đã thông qua bao nhiêu dự án luật?",
     "evidence": ["thông qua 10 dự án luật"], "answer_contains": ["10 dự án luật"]},
    {"id": "fn-nodiac", "question": "van ban 652/TTĐN-NVĐP cua co quan nao",
     "evidence": ["Văn bản số 652/TTĐN-NVĐP"], "answer_contains": ["Cục Thông tin đối ngoại"]},
    {"id": "follow-up", "question": "Còn UBND các huyện thì sao?",
     "evidence": ["Chỉ đạo tuyên truyền trên các đài truyền thanh"],
     "history": [{"role": "user", "content": "Đài Phát thanh – Truyền hình tỉnh có nhiệm vụ gì?"},
                 {"role": "assistant", "content": "Tổ chức phát lại nội dung thông tin đối ngoại [1]."}]},
    {"id": "fine", "question": "Mức phạt khi không đăng tin tuyên truyền là bao nhiêu?", "answerable": False},
]


@pytest.fixture
def cli(tmp_path: Path, embedder):  # noqa: ANN001, ANN201
    """Invoke `policyqa` in-process with a data dir under tmp_path and the session's (real) embedder."""
    from policyqa.cli import app
    from policyqa.context import CliContext

    state = CliContext(settings=make_settings(tmp_path / "data", corpus_dir=CORPUS),
                       make_embedder=lambda settings: embedder)
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False, obj=state)
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


def _dataset(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in SMALL), encoding="utf-8")
    return path


def test_seed_evidence_is_found_in_the_ingested_corpus(corpus_engine) -> None:  # noqa: ANN001
    """Every evidence string of the seed set must sit in some chunk, or relevance could never be judged."""
    snap = corpus_engine.store.snapshot
    passages = [chunk_passage(c, snap.docs[c.doc_id].meta) for c in snap.chunks.values()]
    for item in load_dataset(SEED):
        for evidence in item.evidence:
            single = item.__class__(id=item.id, question=item.question, evidence=(evidence,))
            assert any(is_relevant(p, single) for p in passages), (item.id, evidence)


@pytest.mark.slow
def test_eval_json_has_every_key_and_repeats_exactly(cli, tmp_path: Path) -> None:  # noqa: ANN001
    dataset = _dataset(tmp_path)
    first = json.loads(cli("eval", str(dataset), "--corpus", str(CORPUS), "--json"))
    for key in KEYS:
        assert key in first, key
    assert first["n"] == 4 and first["answerable"] == 3
    assert [r["system"] for r in first["rows"]] == ["policyqa"]
    assert first["ingest"]["documents"] >= 1 and not first["ingest"]["failed"]
    assert 0.0 <= first["hit@10"] <= 1.0 and first["latency_ms_p50"] > 0
    second = json.loads(cli("eval", str(dataset), "--json"))  # default corpus = POLICYQA_CORPUS_DIR
    assert {k: second[k] for k in QUALITY} == {k: first[k] for k in QUALITY}
    assert not list(tmp_path.glob("**/reports"))  # --json writes no report


@pytest.mark.slow
def test_eval_compare_writes_table_and_report(cli, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "reports"
    text = cli("eval", str(_dataset(tmp_path)), "--compare", "--out", str(out))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["system", "n", "hit@1"]
    assert [line.split()[0] for line in lines[1:5]] == ["policyqa", "bm25", "dense", "langchain"]
    (folder,) = out.iterdir()
    assert folder.name.endswith("-small")
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "| policyqa / langchain |" in report and "## Questions" in report
    for png in ("outcomes.png", "latency.png"):
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"
    jsonl = (folder / "outcomes.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in jsonl]
    assert [r["id"] for r in records] == [q["id"] for q in SMALL]
    assert set(records[0]) >= {"policyqa", "bm25", "dense", "langchain"}


def test_eval_rejects_a_malformed_dataset(cli, tmp_path: Path) -> None:  # noqa: ANN001
    from policyqa.cli import app

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "?", "evidence": ["x"]}\n{"id": "b"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(bad), "--json"])
    assert result.exit_code == 2
    assert "bad.jsonl:2: 'question' must be a non-empty string" in result.output


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_scanned_eval_reports_text_and_scanned_rows(cli, tmp_path: Path) -> None:  # noqa: ANN001
    """`--scanned` on five seed questions (every 14th, spread over the dispatch), at the clean level: the OCR
    path end to end (render, image-only PDF, OCR, same document id), not the damage of the `scan` level, whose
    gap is measured by the full run in the README."""
    lines = [ln for ln in SEED.read_text(encoding="utf-8").splitlines() if ln.strip()][::14]
    path = tmp_path / "five.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = json.loads(cli("eval", str(path), "--corpus", str(CORPUS / "dispatch-STTTT-TTBCXB.md"), "--scanned",
                         "--scan-level", "clean", "--json"))
    rows = {r["system"]: r for r in out["rows"]}
    assert list(rows) == ["policyqa", "policyqa-scanned"] and rows["policyqa-scanned"]["n"] == len(lines) == 5
    assert out["scanned"]["level"] == "clean" and out["scanned"]["files"] == 1
    assert out["scanned"]["ingest"]["documents"] == 1 and not out["scanned"]["ingest"]["failed"]
    assert rows["policyqa-scanned"]["hit@5"] >= rows["policyqa"]["hit@5"] - 0.2, rows

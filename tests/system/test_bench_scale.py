"""`policyqa bench scale` in a small configuration, and the copies it builds (text, tokens, offsets, vectors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from evals.bench.replicate import BaseDoc, chunk_pieces, make_variant, replicate, split_clauses
from rag.records import Chunk, DocumentMeta, StoredDocument
from rag.store.lexical import analyze
from tests.conftest import REPO, SHARED

ALQAC = SHARED / "data" / "alqac2025"

ARTICLE = ("Điều 12. Quyền và nghĩa vụ của thanh niên\n"
           "1. Thanh niên có quyền học tập, nghiên cứu khoa học, lao động và khởi nghiệp theo Luật số "
           "57/2020/QH14; được Nhà nước tạo điều kiện, hỗ trợ.\n"
           "2. Thanh niên có nghĩa vụ tuân thủ pháp luật, tham gia bảo vệ Tổ quốc, giữ gìn bản sắc văn hóa "
           "dân tộc, phòng, chống tệ nạn xã hội.")
KHOAN = "3. Cơ quan, tổ chức, cá nhân có trách nhiệm tôn trọng, bảo đảm quyền của thanh niên, tạo môi trường lành mạnh."


def _base() -> BaseDoc:
    text = ARTICLE + "\n\n" + KHOAN
    chunks = []
    for i, body in enumerate((ARTICLE, KHOAN)):
        start = text.index(body)
        chunks.append(Chunk(id=f"c{i}", doc_id="luat-thanh-nien", ordinal=i, text=body, start=start,
                            end=start + len(body), breadcrumb="Luật Thanh niên › Điều 12", kind="dieu",
                            article="12", context="Luật Thanh niên\nLuật Thanh niên › Điều 12"))
    doc = StoredDocument(doc_id="luat-thanh-nien", source_key="/x/Luật Thanh niên.md", root="/x", sha256="0",
                         format="md", meta=DocumentMeta(title="Luật Thanh niên", doc_type="luật"), text=text,
                         chunk_ids=tuple(c.id for c in chunks))
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return BaseDoc(doc=doc, chunks=tuple(chunks), tokens=tuple(analyze(c.search_text()) for c in chunks),
                   vectors=vectors)


def test_clauses_keep_the_heading_line_whole() -> None:
    clauses = split_clauses(ARTICLE)
    assert clauses[0] == "Điều 12. Quyền và nghĩa vụ của thanh niên"
    assert clauses[1] == "1." and "nghiên cứu khoa học," in clauses
    assert split_clauses(KHOAN)[0] == "3."


def test_copy_tokens_equal_a_fresh_analysis_of_its_text() -> None:
    base = _base()
    pieces = [chunk_pieces(c, t) for c, t in zip(base.chunks, base.tokens, strict=True)]
    assert all(p.aligned for p in pieces)  # cut from the stored tokens, not segmented again
    copy = make_variant(base, pieces, 3, limit=2, noise=0.25, seed=13)
    assert copy.doc.doc_id == "luat-thanh-nien-v3" and copy.varied == 2
    for chunk, tokens, original in zip(copy.chunks, copy.tokens, base.chunks, strict=True):
        assert copy.doc.text[chunk.start:chunk.end] == chunk.text
        assert chunk.text != original.text and chunk.id != original.id
        assert chunk.text.split("\n")[0] == original.text.split("\n")[0] or chunk.text.startswith("3.")
        assert Counter(tokens) == Counter(analyze(chunk.search_text()))
        assert "57/2020/qh14" in tokens or "57/2020" not in chunk.text
    cosines = (copy.vectors * base.vectors).sum(axis=1)
    assert np.allclose(np.linalg.norm(copy.vectors, axis=1), 1.0, atol=1e-5)
    assert 0.9 < cosines.min() < 0.999
    again = make_variant(base, pieces, 3, limit=2, noise=0.25, seed=13)
    assert again.chunks == copy.chunks and np.array_equal(again.vectors, copy.vectors)  # deterministic


def test_replicate_reaches_the_size_exactly_with_the_real_base_first() -> None:
    base = _base()
    pieces = [[chunk_pieces(c, t) for c, t in zip(base.chunks, base.tokens, strict=True)]]
    docs = list(replicate([base], pieces, 7, noise=0.25, seed=13))
    assert [len(d.chunks) for d in docs] == [2, 2, 2, 1]
    assert docs[0].doc == base.doc and np.array_equal(docs[0].vectors, base.vectors)
    assert len({c.id for d in docs for c in d.chunks}) == 7
    assert docs[-1].doc.chunk_ids == (docs[-1].chunks[0].id,)


@pytest.mark.slow
@pytest.mark.skipif(not (ALQAC / "laws").is_dir(), reason="ALQAC 2025 data not available")
def test_bench_scale_small_configuration(tmp_path: Path) -> None:
    env = {**os.environ, "POLICYQA_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False"}
    cmd = [sys.executable, "-m", "policyqa", "bench", "scale", "--sizes", "600,1500", "--base-laws", "2",
           "--queries", "10", "--laws", str(ALQAC / "laws"), "--questions", str(ALQAC / "train.json"),
           "--work-dir", str(tmp_path / "work"), "--json"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert "perturbed vectors" in report["note"] and "varied text" in report["note"]
    base = report["base"]
    assert base["documents"] == 2 and 50 < base["chunks"] < 600 and str(base["chunks"]) in report["note"]
    ingest = report["ingest"]
    assert ingest["chunks"] == base["chunks"] and ingest["tokens_per_s"] > 0 and ingest["chunks_per_s"] > 0
    assert [s["target"] for s in report["sizes"]] == [600, 1500]
    for s in report["sizes"]:
        assert s["chunks"] == s["target"] and s["real_chunks"] == base["chunks"]
        assert s["copied_text_varied"] > 0.8 * s["copied_chunks"]
        assert s["rss_open_mib"] > s["rss_with_model_mib"] > 0 and s["rss_store_mib"] > 0 and s["disk_mib"] > 0
        for mode in ("dense", "lexical", "hybrid", "ask"):
            lat = s["latency_ms"][mode]
            assert lat["n"] == 10 and lat["p95"] >= lat["p50"] > 0, (mode, lat)
    growth = report["growth"]
    assert growth["chunks"] == 2.5 and growth["disk_mib"] > 1.0

"""Ingestion into a real Chroma store with the real bundled embedder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths, ingest_uploads, remove_document, safe_upload_name, slugify
from rag.store.lexical import LexicalIndex
from rag.store.vectors import EmbeddingMismatch, VectorStore, make_client
from rag.timing import STAGES
from tests.conftest import CORPUS, LAWS, REPO, make_settings
from tests.documents import write_all

pytestmark = pytest.mark.slow


def _consistent(engine) -> None:  # noqa: ANN001
    """Manifest, Chroma, snapshot and the persisted lexical index all hold the same chunk ids."""
    store = engine.store
    ids = store.docstore.chunk_ids()
    assert set(store.snapshot.order) == ids
    assert store.vectors.all_ids() == ids
    assert set(store.docstore.chunk_records(sorted(ids))) == ids
    loaded = LexicalIndex.load(engine.settings.lexical_dir)
    assert loaded is not None and set(loaded[0].ids) == ids


def test_corpus_ingest_is_idempotent(engine_factory, backend) -> None:  # noqa: ANN001
    engine = engine_factory(**backend)
    first = ingest_paths(engine.store, [CORPUS])
    assert first.documents == 1 and first.chunks > 10 and first.added == first.chunks
    assert first.failed == ()
    stages = dict(first.stages)
    assert list(stages) == list(STAGES) and first.to_json()["stages"].keys() == stages.keys()
    assert all(stages[s] > 0 for s in ("load", "parse", "chunk", "embed", "segment", "write", "index"))
    assert sum(stages.values()) <= first.seconds
    second = ingest_paths(engine.store, [CORPUS])
    assert (second.added, second.updated, second.removed, second.unchanged) == (0, 0, 0, 1)
    assert dict(second.stages)["embed"] == 0  # nothing changed, nothing embedded
    assert second.chunks == first.chunks
    _consistent(engine)
    doc = next(iter(engine.store.snapshot.docs.values()))
    assert doc.meta.doc_type == "công văn"
    assert doc.meta.issuer == "Sở Thông tin và Truyền thông tỉnh Kon Tum"
    for cid in doc.chunk_ids:
        chunk = engine.store.snapshot.chunks[cid]
        assert doc.text[chunk.start:chunk.end] == chunk.text


def test_put_embeds_in_slices_and_reports_each(engine_factory, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import rag.store.store
    from ingest.chunk import chunk_document
    from ingest.load import load_file
    from ingest.parse.document import parse_document
    from rag.timing import StageClock

    engine = engine_factory()
    src = load_file(next(CORPUS.glob("*.md")), timeout_s=60)
    parsed = parse_document(src, "dispatch")
    chunks = chunk_document(parsed, max_tokens=engine.settings.chunk_max_tokens)
    monkeypatch.setattr(rag.store.store, "EMBED_SLICE", 4)
    calls: list[int] = []
    clock = StageClock()
    with engine.store.writing():
        added, _ = engine.store.put(parsed, chunks, source_key="k", root="", clock=clock, on_embedded=calls.append)
    assert added == len(chunks) > 8 and sum(calls) == len(chunks) and max(calls) == 4 and len(calls) >= 3
    assert dict(clock.totals())["embed"] > 0 and engine.store.vectors.count() == len(chunks)


def test_update_and_removal(engine_factory, backend, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "docs"
    shutil.copytree(CORPUS, folder)
    extra = folder / "them.md"
    extra.write_text("# Thông báo\n\n1. Các phòng ban nộp báo cáo quý.\n\n2. Lãnh đạo họp giao ban thứ Hai.\n",
                     encoding="utf-8")
    engine = engine_factory(**backend)
    base = ingest_paths(engine.store, [folder])
    assert base.documents == 2
    extra.write_text("# Thông báo\n\n1. Các phòng ban nộp báo cáo quý.\n\n2. Lãnh đạo họp giao ban thứ Ba.\n",
                     encoding="utf-8")
    changed = ingest_paths(engine.store, [folder])
    assert changed.updated == 1 and changed.unchanged == 1
    assert changed.added >= 1 and changed.removed >= 1
    assert changed.chunks == base.chunks
    texts = " ".join(c.text for c in engine.store.snapshot.chunks.values())
    assert "thứ Ba" in texts and "thứ Hai" not in texts
    _consistent(engine)
    extra.unlink()
    removed = ingest_paths(engine.store, [folder])
    assert removed.documents == 1 and removed.removed >= 1
    assert "thứ Ba" not in " ".join(c.text for c in engine.store.snapshot.chunks.values())
    _consistent(engine)


def test_bad_files_are_reported_and_the_rest_ingested(engine_factory, tmp_path: Path) -> None:  # noqa: ANN001
    files = write_all(tmp_path / "mixed")
    engine = engine_factory()
    report = ingest_paths(engine.store, [tmp_path / "mixed"])
    failed = {Path(f.path).name: f.error for f in report.failed}
    assert set(failed) == {"hong.pdf", "rong.txt"}, failed
    assert "PDF" in failed["hong.pdf"] and "empty" in failed["rong.txt"]
    assert report.documents == 4  # docx, pdf, html, nfd
    metas = {d.doc_id: d.meta for d in engine.store.snapshot.docs.values()}
    for doc_id, meta in metas.items():
        assert meta.number == "123/SNV-TCBC", (doc_id, meta)
        assert meta.issued_date == "2024-03-15", (doc_id, meta)
    assert files["docx"].exists()


def test_uploads_and_delete(engine_factory, backend) -> None:  # noqa: ANN001
    engine = engine_factory(**backend)
    report = ingest_uploads(engine.store, [("../../etc/passwd.md", "# Tiêu đề\n\nNội dung thử nghiệm.\n".encode()),
                                           ("x.exe", b"MZ\x90\x00binary")])
    assert report.documents == 1 and len(report.failed) == 1
    doc_id = report.ingested[0]
    assert doc_id == "passwd"
    assert remove_document(engine.store, doc_id) >= 1
    assert engine.store.counts() == (0, 0)
    _consistent(engine)


def test_safe_names() -> None:
    assert safe_upload_name("../../etc/passwd") == "passwd"
    assert safe_upload_name("C:\\x\\..\\y.pdf") == "y.pdf"
    assert safe_upload_name("") == "upload"
    assert slugify("Luật Đường bộ") == "luat-duong-bo"


def test_road_laws_ingest_with_metadata(engine_factory) -> None:  # noqa: ANN001
    engine = engine_factory()
    report = ingest_paths(engine.store, [LAWS])
    assert report.documents == 2 and not report.failed
    by_number = {d.meta.number: d for d in engine.store.snapshot.docs.values()}
    assert set(by_number) == {"35/2024/QH15", "36/2024/QH15"}
    expected = {"35/2024/QH15": 86, "36/2024/QH15": 89}
    for number, doc in by_number.items():
        assert doc.meta.issued_date == "2024-06-27"
        assert doc.meta.issuer and "Quốc hội" in doc.meta.issuer
        chunks = [engine.store.snapshot.chunks[c] for c in doc.chunk_ids]
        articles = {c.article for c in chunks if c.article}
        assert articles == {str(i) for i in range(1, expected[number] + 1)}
        assert all(c.breadcrumb.startswith(f"Luật {number}") for c in chunks if c.article)
    _consistent(engine)


def test_other_embedding_model_is_refused(engine_factory, tmp_path: Path) -> None:  # noqa: ANN001
    engine = engine_factory("m")
    ingest_paths(engine.store, [CORPUS])
    client = make_client(engine.settings)
    with pytest.raises(EmbeddingMismatch, match="built with embedding model"):
        VectorStore(client, engine.settings.collection, "some-other-model")


def test_cli_ingest_json(tmp_path: Path, embedder) -> None:  # noqa: ANN001
    settings = make_settings(tmp_path / "cli")
    env = {**os.environ, "POLICYQA_DATA_DIR": str(settings.data_dir),
           "POLICYQA_MODEL_CACHE_DIR": str(settings.model_cache_dir)}
    cmd = [sys.executable, "-m", "policyqa", "ingest", str(CORPUS), str(tmp_path / "nothing-here"), "--json"]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    for key in ("documents", "chunks", "added", "updated", "removed", "unchanged", "failed"):
        assert key in report
    assert report["documents"] == 1 and report["failed"][0]["error"] == "no such file or folder"
    bad = subprocess.run([sys.executable, "-m", "policyqa", "ingest", str(tmp_path / "nothing-here"), "--json"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1


def test_configured_limits_reach_the_loader(engine_factory) -> None:  # noqa: ANN001
    engine = engine_factory(max_text_chars=1000)
    report = ingest_paths(engine.store, [CORPUS])
    assert report.documents == 0 and len(report.failed) == 1
    assert "POLICYQA_MAX_TEXT_CHARS" in report.failed[0].error
    upload = ingest_uploads(engine.store, [("big.md", ("Điều 1. " + "nội dung " * 200).encode())])
    assert upload.documents == 0 and "POLICYQA_MAX_TEXT_CHARS" in upload.failed[0].error

"""The Store itself (rag/store/store.py), driven directly with real parsed documents, a real Chroma in a temp
dir and the real embedder: snapshots, idempotent puts, updates, removal, garbage collection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.chunk import chunk_document
from ingest.load import load_bytes
from ingest.parse.document import parse_document
from rag.records import Chunk, ParsedDocument
from rag.runtime import open_runtime
from tests.conftest import make_settings

TEXT_V1 = """# Quy định về tập huấn

Điều 1. Phạm vi
Quy định này áp dụng cho cán bộ phụ trách thông tin đối ngoại.

Điều 2. Tập huấn
1. Cán bộ được tập huấn mỗi năm một lần.
2. Sở Thông tin và Truyền thông tổ chức lớp tập huấn.
"""
TEXT_V2 = TEXT_V1.replace("mỗi năm một lần", "mỗi quý một lần")


class CountingEmbedder:
    """The real embedder, counting the passages it is asked to embed."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner, self.passages = inner, 0
        self.model_id = inner.model_id

    def embed_documents_np(self, texts: list[str]) -> np.ndarray:
        self.passages += len(texts)
        return self.inner.embed_documents_np(texts)

    def __getattr__(self, name: str):  # noqa: ANN204 - queries and the rest go to the real embedder
        return getattr(self.inner, name)


def parsed(text: str, doc_id: str = "quy-dinh-tap-huan") -> tuple[ParsedDocument, list[Chunk]]:
    doc = parse_document(load_bytes(text.encode("utf-8"), "quy-dinh.md"), doc_id)
    return doc, chunk_document(doc, max_tokens=200)


@pytest.fixture
def runtime(embedder, tmp_path: Path):  # noqa: ANN001, ANN201
    counting = CountingEmbedder(embedder)
    engine = open_runtime(make_settings(tmp_path / "store"), embedder=counting)
    yield engine, counting
    engine.close()


def put(store, text: str) -> tuple[int, int]:  # noqa: ANN001
    doc, chunks = parsed(text)
    with store.writing():
        return store.put(doc, chunks, source_key="quy-dinh.md", root="test")


def test_put_publishes_a_snapshot_with_vectors_and_lexical_tokens(runtime) -> None:  # noqa: ANN001
    engine, counting = runtime
    store = engine.store
    before = store.snapshot
    added, removed = put(store, TEXT_V1)
    snap = store.snapshot
    assert removed == 0 and added == len(snap.order) > 0
    assert snap.version == before.version + 1 and before.order == ()  # the old snapshot is untouched
    assert store.info()["vectors"] == len(snap.order) == counting.passages
    assert store.counts() == (1, len(snap.order))
    assert set(snap.by_doc["quy-dinh-tap-huan"]) == set(snap.order)
    assert list(snap.lexical.ids) == list(snap.order)
    assert any("tập huấn" in snap.chunks[cid].text for cid in snap.order)


def test_putting_the_same_text_again_embeds_nothing(runtime) -> None:  # noqa: ANN001
    engine, counting = runtime
    put(engine.store, TEXT_V1)
    first = counting.passages
    assert put(engine.store, TEXT_V1) == (0, 0)
    assert counting.passages == first


def test_an_update_embeds_only_changed_chunks_and_drops_the_replaced_vectors(runtime) -> None:  # noqa: ANN001
    engine, counting = runtime
    store = engine.store
    put(store, TEXT_V1)
    old = store.snapshot
    first = counting.passages
    added, removed = put(store, TEXT_V2)
    new = store.snapshot
    assert added == removed > 0 and counting.passages - first == added  # the unchanged chunks were kept
    gone = set(old.order) - set(new.order)
    assert len(gone) == removed
    assert store.vectors.existing_ids(sorted(gone)) == set()  # deleted once the new snapshot was out
    assert store.info()["vectors"] == len(new.order)
    assert any("mỗi quý một lần" in new.chunks[cid].text for cid in new.order)
    assert not any("mỗi quý một lần" in old.chunks[cid].text for cid in old.order)  # readers' copy unchanged


def test_remove_takes_the_document_its_chunks_and_vectors(runtime) -> None:  # noqa: ANN001
    engine, _ = runtime
    store = engine.store
    put(store, TEXT_V1)
    n = len(store.snapshot.order)
    with store.writing():
        assert store.remove("quy-dinh-tap-huan") == n
        assert store.remove("quy-dinh-tap-huan") == 0  # already gone from the manifest
    assert store.counts() == (0, 0) and store.info()["vectors"] == 0


def test_garbage_left_by_an_interrupted_write_is_collected(runtime) -> None:  # noqa: ANN001
    engine, _ = runtime
    store = engine.store
    put(store, TEXT_V1)
    doc, chunks = parsed(TEXT_V2, "orphan")
    # Vectors written without a manifest entry: what a writer killed between the two leaves behind.
    store.vectors.upsert(chunks, engine.embedder.embed_documents_np([c.search_text() for c in chunks]), doc.meta)
    assert store.info()["vectors"] > len(store.snapshot.order)
    assert store.collect_garbage() == len(chunks)
    assert store.info()["vectors"] == len(store.snapshot.order)


def test_refresh_is_a_no_op_while_the_manifest_is_unchanged(runtime) -> None:  # noqa: ANN001
    engine, _ = runtime
    put(engine.store, TEXT_V1)
    snap = engine.store.snapshot
    assert engine.store.refresh() is False and engine.store.snapshot is snap

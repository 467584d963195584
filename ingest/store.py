"""The store: document records (SQLite), vectors (Chroma) and the lexical index, kept in step.

Readers work on an immutable Snapshot; a writer prepares new chunks (invisible to readers, because dense
hits are filtered by the snapshot's chunk ids), swaps the snapshot, then deletes stale vectors under a
write lock, so a concurrent question sees either the old or the new document, never half of one.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from ingest.docstore import DocStore
from ingest.vectorstore import VectorStore
from rag.lexical import LexicalIndex, analyze
from rag.settings import Settings
from rag.types import Chunk, DocumentMeta, ParsedDocument, StoredDocument

log = logging.getLogger(__name__)


class DocumentEmbedder(Protocol):
    model_id: str

    def embed_documents_np(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Snapshot:
    """What readers see: a consistent set of documents, chunks and the lexical index over them."""

    version: int
    docs: dict[str, StoredDocument]
    chunks: dict[str, Chunk]
    order: tuple[str, ...]  # chunk ids in (doc_id, ordinal) order
    lexical: LexicalIndex
    by_doc: dict[str, tuple[str, ...]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)  # inverse document frequency of lexical tokens
    idf_unseen: float = 1.0  # weight of a term the corpus never uses (the largest idf), computed once

    def doc_meta(self, doc_id: str) -> DocumentMeta:
        return self.docs[doc_id].meta


def _idf(token_lists: Sequence[list[str]]) -> dict[str, float]:
    df: dict[str, int] = {}
    for tokens in token_lists:
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    n = len(token_lists)
    return {t: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}


class _RWLock:
    """Many readers or one writer; readers are Chroma queries, the writer deletes stale vectors."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._readers:
                self._cond.wait()
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def _stamp(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]


class Store:
    """Owns the docstore, the vector collection and the current snapshot (collaborators passed in)."""

    def __init__(self, settings: Settings, docstore: DocStore, vectors: VectorStore,
                 embedder: DocumentEmbedder) -> None:
        self.settings = settings
        self.docstore = docstore
        self.vectors = vectors
        self.embedder = embedder
        self._write_lock = threading.Lock()  # one ingest at a time
        self._rw = _RWLock()
        self._snapshot = self._load_snapshot(version=0)

    # ---- reading -----------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """Hold the read lock for the span of a query against Chroma."""
        with self._rw.read():
            yield self._snapshot

    def _load_snapshot(self, version: int) -> Snapshot:
        rows = self.docstore.all_chunks()
        order = tuple(c.id for c, _ in rows)
        stamp = _stamp(order)
        loaded = LexicalIndex.load(self.settings.lexical_dir)
        if loaded is not None and loaded[1] == stamp:
            lexical = loaded[0]
        else:
            lexical = LexicalIndex.build(list(order), [t for _, t in rows])
            lexical.save(self.settings.lexical_dir, stamp)
        idf = _idf([t for _, t in rows])
        docs = {d.doc_id: d for d in self.docstore.documents()}
        by_doc = {d: d_doc.chunk_ids for d, d_doc in docs.items()}
        return Snapshot(version=version, docs=docs, chunks={c.id: c for c, _ in rows}, order=order,
                        lexical=lexical, by_doc=by_doc, idf=idf, idf_unseen=max(idf.values(), default=1.0))

    # ---- writing -----------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Serialise writers; on exit, publish a new snapshot and delete vectors nobody references."""
        with self._write_lock:
            try:
                yield
            finally:
                self._publish()

    def _publish(self) -> None:
        new = self._load_snapshot(version=self._snapshot.version + 1)
        stale = set(self._snapshot.order) - set(new.order)
        self._snapshot = new
        if stale:
            with self._rw.write():
                self.vectors.delete(sorted(stale))

    def put(self, parsed: ParsedDocument, chunks: Sequence[Chunk], *, source_key: str, root: str) -> tuple[int, int]:
        """Write one parsed document; returns (chunks added, chunks removed). Call inside `writing()`."""
        old = self.docstore.get_document(parsed.doc_id)
        old_ids = set(old.chunk_ids) if old else set()
        new_ids = [c.id for c in chunks]
        present = self.vectors.existing_ids(new_ids)
        missing = [c for c in chunks if c.id not in present]
        if missing:
            vectors = self.embedder.embed_documents_np([c.search_text() for c in missing])
            self.vectors.upsert(missing, vectors, parsed.meta)
        # Chunk ids hash their text, so a chunk kept by an update keeps its tokens: segment only the new ones.
        known = self.docstore.tokens_of(parsed.doc_id) if old else {}
        tokens = [known[c.id] if c.id in known else analyze(c.search_text()) for c in chunks]
        stored = StoredDocument(
            doc_id=parsed.doc_id, source_key=source_key, root=root, sha256=parsed.sha256, format=parsed.format,
            meta=parsed.meta, text=parsed.text, chunk_ids=tuple(new_ids), warnings=parsed.warnings,
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds"))
        with self.docstore.transaction() as conn:
            self.docstore.put_document(conn, stored, chunks, tokens)
        return len(set(new_ids) - old_ids), len(old_ids - set(new_ids))

    def remove(self, doc_id: str) -> int:
        """Remove a document; returns how many chunks went. Call inside `writing()`."""
        old = self.docstore.get_document(doc_id)
        if old is None:
            return 0
        with self.docstore.transaction() as conn:
            self.docstore.delete_document(conn, doc_id)
        return len(old.chunk_ids)

    def counts(self) -> tuple[int, int]:
        snap = self._snapshot
        return len(snap.docs), len(snap.order)

    def info(self) -> dict[str, Any]:
        docs, chunks = self.counts()
        return {"documents": docs, "chunks": chunks, "vectors": self.vectors.count(),
                "embedding_model": self.vectors.model_id}

"""The store: the manifest (documents, chunks, tokens), the vectors (Chroma) and the lexical index, kept in step.

Readers work on an immutable Snapshot; a writer prepares new chunks (invisible to readers, because dense
hits are filtered by the snapshot's chunk ids), commits the manifest, swaps the snapshot, then deletes stale
vectors under a write lock, so a concurrent question sees either the old or the new document, never half of one.

Several processes may share one store (API workers against a Chroma server): writers take a lock file in the
data dir, every committed write changes the manifest's generation, and `refresh` reloads a process's snapshot
when the generation moved. A write that stopped half-way (a killed ingest) leaves only records nobody lists;
the next writer deletes them before it starts.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from rag.records import Chunk, DocumentMeta, ParsedDocument, StoredDocument
from rag.settings import Settings
from rag.store.lexical import LexicalIndex, analyze
from rag.store.locks import process_lock
from rag.store.manifest_sqlite import DocStore
from rag.store.vectors import VectorStore
from rag.timing import StageClock

# Chunks embedded per call: long documents (the fines decree has 932 chunks) show progress as they go, and
# each call is still large enough for the embedder to sort and batch by length.
EMBED_SLICE = 128

log = logging.getLogger(__name__)


class DocumentEmbedder(Protocol):
    """What the store needs from an embedder: its model id and passage vectors."""

    @property
    def model_id(self) -> str: ...

    def embed_documents_np(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Snapshot:
    """What readers see: a consistent set of documents, chunks and the lexical index over them."""

    version: int
    generation: str | None  # the manifest generation this was loaded at; None = torn read, reload next time
    docs: dict[str, StoredDocument]
    chunks: dict[str, Chunk]
    order: tuple[str, ...]  # chunk ids in (doc_id, ordinal) order
    lexical: LexicalIndex
    by_doc: dict[str, tuple[str, ...]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)  # inverse document frequency of lexical tokens
    idf_unseen: float = 1.0  # weight of a term the corpus never uses (the largest idf), computed once
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # built on first use
    # The documents this view may show (rag.store.scope); None = every document. Both retrievers restrict to it.
    scope: frozenset[str] | None = None

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
    """Owns the manifest, the vector collection and the current snapshot (collaborators passed in)."""

    def __init__(self, settings: Settings, docstore: DocStore, vectors: VectorStore,
                 embedder: DocumentEmbedder) -> None:
        self.settings = settings
        self.docstore = docstore
        self.vectors = vectors
        self.embedder = embedder
        self._write_lock = threading.Lock()  # one writer per process; the lock file serialises processes
        self._refresh_lock = threading.Lock()
        self._rw = _RWLock()
        self._stale: set[str] = set()  # vectors of replaced chunks, deleted once the new snapshot is out
        self._tokens: dict[str, list[str]] = {}
        self._snapshot = self._load_snapshot(None)

    # ---- reading -----------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """Hold the read lock for the span of a query against Chroma."""
        with self._rw.read():
            yield self._snapshot

    def refresh(self) -> bool:
        """Reload the snapshot if the manifest changed since it was loaded (another process wrote); True if so."""
        with self._refresh_lock:
            current = self._snapshot
            if current.generation is not None and self.docstore.generation() == current.generation:
                return False
            self._snapshot = self._load_snapshot(current)
            return True

    def _load_snapshot(self, prev: Snapshot | None) -> Snapshot:
        generation: str | None = self.docstore.generation()  # read first: a later write means another reload
        docs = {d.doc_id: d for d in self.docstore.documents()}
        order = [cid for doc_id in sorted(docs) for cid in docs[doc_id].chunk_ids]
        known = prev.chunks if prev else {}  # its tokens are self._tokens: both are set together, below
        # Chunk ids hash their text: a chunk already loaded is unchanged, only new ones are read.
        records = self.docstore.chunk_records([cid for cid in order if cid not in known])
        chunks: dict[str, Chunk] = {}
        tokens: dict[str, list[str]] = {}
        for cid in order:
            if cid in known:
                chunks[cid], tokens[cid] = known[cid], self._tokens[cid]
            elif cid in records:
                chunks[cid], tokens[cid] = records[cid]
        if len(chunks) < len(order):  # a document changed while we read: keep what is whole, reload later
            log.info("manifest changed during reload (%d chunk records gone); retrying later",
                     len(order) - len(chunks))
            generation = None
            order = [cid for cid in order if cid in chunks]
        self._tokens = tokens
        stamp = _stamp(order)
        lexical = prev.lexical if prev is not None and prev.lexical.ids == order else None
        if lexical is None:
            loaded = LexicalIndex.load(self.settings.lexical_dir)
            if loaded is not None and loaded[1] == stamp:
                lexical = loaded[0]
            else:
                lexical = LexicalIndex.build(order, [tokens[cid] for cid in order])
                try:
                    lexical.save(self.settings.lexical_dir, stamp)
                except OSError as exc:  # a cache: the index in memory is what counts
                    log.warning("could not save the lexical index: %s", exc)
        idf = _idf([tokens[cid] for cid in order])
        by_doc = {d: tuple(cid for cid in doc.chunk_ids if cid in chunks) for d, doc in docs.items()}
        return Snapshot(version=(prev.version + 1) if prev else 0, generation=generation, docs=docs,
                        chunks=chunks, order=tuple(order), lexical=lexical, by_doc=by_doc, idf=idf,
                        idf_unseen=max(idf.values(), default=1.0))

    # ---- writing -----------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Serialise writers (threads and processes); on exit, publish a new snapshot and delete the vectors of
        replaced chunks. A "writer" mark in the manifest lives as long as the write: finding one set means the
        last writer was killed (or, on a Chroma server, another host is writing), so leftovers are collected."""
        with self._write_lock, process_lock(self.settings.data_dir / "write.lock",
                                            self.settings.write_lock_timeout_s):
            if self.docstore.get_info("writer"):  # the last writer never finished: it may have left records
                self.collect_garbage()
            self.docstore.set_info("writer", f"pid {os.getpid()} on {socket.gethostname()} since "
                                             f"{datetime.now(UTC).isoformat(timespec='seconds')}")
            try:
                yield
            finally:
                self._publish()
            self.docstore.set_info("writer", "")

    def collect_garbage(self) -> int:
        """Delete vectors and chunk records no document lists (left by a write that stopped half-way).

        With a Chroma server, writers on other hosts may be half-way through a write right now, so only
        leftovers older than `gc_grace_s` go; an embedded store has one writer, this one."""
        grace = self.settings.gc_grace_s if self.settings.chroma_host else 0.0
        keep = self.docstore.chunk_ids()
        removed = self.vectors.collect_garbage(keep, grace) + self.docstore.collect_garbage(keep, grace)
        if removed:
            log.warning("removed %d records left by an interrupted write", removed)
        return removed

    def _publish(self) -> None:
        with self._refresh_lock:
            self._snapshot = self._load_snapshot(self._snapshot)
        stale, self._stale = sorted(self._stale - set(self._snapshot.order)), set()
        if stale:
            with self._rw.write():
                self.vectors.delete(stale)

    def put(self, parsed: ParsedDocument, chunks: Sequence[Chunk], *, source_key: str, root: str,
            clock: StageClock | None = None, on_embedded: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Write one parsed document; returns (chunks added, chunks removed). Call inside `writing()`.

        `clock` gets the embed, segment and write times; `on_embedded(n)` is called after each slice of n chunks
        is embedded (a progress bar)."""
        clock = clock or StageClock()
        old = self.docstore.get_document(parsed.doc_id)
        old_ids = set(old.chunk_ids) if old else set()
        new_ids = [c.id for c in chunks]
        present = self.vectors.existing_ids(new_ids)
        missing = [c for c in chunks if c.id not in present]
        for start in range(0, len(missing), EMBED_SLICE):
            part = missing[start : start + EMBED_SLICE]
            with clock.stage("embed"):
                vectors = self.embedder.embed_documents_np([c.search_text() for c in part])
            with clock.stage("write"):
                self.vectors.upsert(part, vectors, parsed.meta)
            if on_embedded is not None:
                on_embedded(len(part))
        # Chunk ids hash their text, so a chunk kept by an update keeps its tokens: segment only the new ones.
        with clock.stage("segment"):
            kept = self.docstore.chunk_records([cid for cid in new_ids if cid in old_ids])
            tokens = [kept[c.id][1] if c.id in kept else analyze(c.search_text()) for c in chunks]
        stored = StoredDocument(
            doc_id=parsed.doc_id, source_key=source_key, root=root, sha256=parsed.sha256, format=parsed.format,
            meta=parsed.meta, text=parsed.text, chunk_ids=tuple(new_ids), warnings=parsed.warnings,
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds"))
        with clock.stage("write"):
            self.docstore.put_document(stored, chunks, tokens)
        self._stale |= old_ids - set(new_ids)
        return len(set(new_ids) - old_ids), len(old_ids - set(new_ids))

    def set_audience(self, doc_id: str, audience: str) -> bool:
        """Change who may read a document (a canonical rag.access audience); False when it is not stored.
        Call inside `writing()`: the new snapshot is published when the write ends."""
        old = self.docstore.get_document(doc_id)
        if old is None:
            return False
        return self.docstore.set_meta(doc_id, replace(old.meta, audience=audience))

    def remove(self, doc_id: str) -> int:
        """Remove a document; returns how many chunks went. Call inside `writing()`."""
        old = self.docstore.get_document(doc_id)
        if old is None:
            return 0
        self.docstore.delete_document(doc_id)
        self._stale |= set(old.chunk_ids)
        return len(old.chunk_ids)

    def counts(self) -> tuple[int, int]:
        snap = self._snapshot
        return len(snap.docs), len(snap.order)

    def info(self) -> dict[str, Any]:
        docs, chunks = self.counts()
        return {"documents": docs, "chunks": chunks, "vectors": self.vectors.count(),
                "embedding_model": self.vectors.model_id}

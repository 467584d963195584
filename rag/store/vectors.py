"""Chroma collection holding chunk vectors; records which embedding model built it."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from rag.records import Chunk, DocumentMeta
from rag.settings import Settings

log = logging.getLogger(__name__)

_BATCH = 1000


class StoreUnavailable(RuntimeError):
    """The vector store cannot be reached (the API turns this into 503)."""


class StoreBusy(StoreUnavailable):
    """Another process holds the write lock for longer than the configured wait (503 store-busy)."""


class EmbeddingMismatch(RuntimeError):
    """The collection was built by another embedding model; querying it would return garbage."""


def chroma_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the Chroma client; its connection failures (plain Exceptions) become StoreUnavailable (503)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        raise StoreUnavailable(f"Chroma request failed: {exc}") from exc


def make_client(settings: Settings) -> Any:
    """Embedded PersistentClient under the data dir, or HttpClient when a Chroma host is configured."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                       settings=chroma_settings)
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except Exception as exc:  # chromadb raises plain Exceptions for connection problems
        raise StoreUnavailable(f"cannot open the Chroma store: {exc}") from exc


def chunk_metadata(chunk: Chunk, meta: DocumentMeta, written_at: float = 0.0) -> dict[str, str | int | float]:
    """Flat metadata Chroma can filter on (no None values allowed there); written_at dates crash leftovers."""
    fields: dict[str, str | int | float | None] = {"written_at": written_at,
        "doc_id": chunk.doc_id, "ordinal": chunk.ordinal, "breadcrumb": chunk.breadcrumb, "kind": chunk.kind,
        "start": chunk.start, "end": chunk.end, "article": chunk.article, "clause": chunk.clause,
        "section": chunk.section, "title": meta.title, "doc_type": meta.doc_type, "number": meta.number,
        "issued_date": meta.issued_date, "issuer": meta.issuer,
    }
    return {k: v for k, v in fields.items() if v is not None}


class VectorStore:
    """Owns one Chroma collection (the client is passed in)."""

    def __init__(self, client: Any, name: str, model_id: str, *, ef_search: int = 1000) -> None:
        self.model_id = model_id
        try:
            self.collection = client.get_or_create_collection(
                name=name, metadata={"embedding_model": model_id},
                configuration={"hnsw": {"space": "cosine", "ef_search": ef_search}}, embedding_function=None)
            if (self.collection.configuration or {}).get("hnsw", {}).get("ef_search") != ef_search:
                # A store made before this setting (or with another value): ef_search is mutable in Chroma and
                # applies from the next time the index is loaded.
                self.collection.modify(configuration={"hnsw": {"ef_search": ef_search}})
        except Exception as exc:
            raise StoreUnavailable(f"cannot open Chroma collection {name!r}: {exc}") from exc
        built_with = (self.collection.metadata or {}).get("embedding_model")
        if built_with and built_with != model_id:
            raise EmbeddingMismatch(
                f"collection {name!r} was built with embedding model {built_with!r} but {model_id!r} is "
                f"configured; re-ingest into a new data dir or set POLICYQA_EMBEDDING_MODEL={built_with}")

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, meta: DocumentMeta) -> None:
        now = time.time()
        for i in range(0, len(chunks), _BATCH):
            part = chunks[i:i + _BATCH]
            chroma_call(self.collection.upsert,
                       ids=[c.id for c in part], embeddings=vectors[i:i + _BATCH].tolist(),
                       documents=[c.text for c in part], metadatas=[chunk_metadata(c, meta, now) for c in part])

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), _BATCH):
            chroma_call(self.collection.delete, ids=list(ids[i:i + _BATCH]))

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), _BATCH):
            found.update(chroma_call(self.collection.get, ids=list(ids[i:i + _BATCH]), include=[])["ids"])
        return found

    def _all(self) -> Iterator[tuple[str, float]]:
        """Every (id, written_at) in the collection, a page at a time."""
        offset = 0
        while True:
            res = chroma_call(self.collection.get, include=["metadatas"], limit=_BATCH, offset=offset)
            if not res["ids"]:
                return
            for cid, m in zip(res["ids"], res["metadatas"], strict=True):
                yield cid, float((m or {}).get("written_at", 0.0))
            offset += len(res["ids"])

    def all_ids(self) -> set[str]:
        return {cid for cid, _ in self._all()}

    def collect_garbage(self, keep: set[str], grace_s: float) -> int:
        """Delete vectors of chunks not in `keep` written more than grace_s ago (crash leftovers); how many."""
        cutoff = time.time() - grace_s
        orphans = [cid for cid, written in self._all() if cid not in keep and written <= cutoff]
        self.delete(orphans)
        return len(orphans)

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the n nearest chunks."""
        try:
            count = self.collection.count()
            if count == 0:
                return []
            res = self.collection.query(query_embeddings=[vector.tolist()], n_results=min(n, count),
                                        where=where or None, include=["distances"])
        except Exception as exc:
            raise StoreUnavailable(f"Chroma query failed: {exc}") from exc
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def count(self) -> int:
        try:
            return int(self.collection.count())
        except Exception as exc:
            raise StoreUnavailable(f"Chroma is not reachable: {exc}") from exc

"""The real chunks the scale benchmark starts from: a cached ALQAC store, or the smallest laws ingested now."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals.alqac import load_laws, write_converted
from evals.bench.replicate import BaseDoc
from evals.bench.throughput import ingest_throughput, smallest_laws
from evals.run import store_settings
from rag.runtime import open_runtime
from rag.settings import Settings
from rag.store.vectors import make_client

log = logging.getLogger(__name__)

_BATCH = 1000


@dataclass(frozen=True)
class PrecomputedVectors:
    """Stands in for the embedder while a store is written from vectors that already exist."""

    model_id: str

    def embed_documents_np(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("this store is written from precomputed vectors; nothing may be embedded")


@dataclass(frozen=True)
class Base:
    docs: tuple[BaseDoc, ...]
    model_id: str
    source: str  # "cache <path>" or "ingested <n> smallest ALQAC laws"

    @property
    def chunks(self) -> int:
        return sum(len(d.chunks) for d in self.docs)


def _store_dir(folder: Path) -> Path | None:
    for candidate in (folder / "store", folder):
        if (candidate / "documents.sqlite").is_file() and (candidate / "chroma").is_dir():
            return candidate
    return None


def find_cached_store(data_dir: Path) -> Path | None:
    """The newest ALQAC evaluation store (data/eval-cache/alqac-*, built by `policyqa eval-alqac`), if any."""
    found = [(d.stat().st_mtime, s) for d in (data_dir / "eval-cache").glob("alqac-*")
             if d.is_dir() and (s := _store_dir(d)) is not None]
    return max(found)[1] if found else None


def stored_model_id(client: Any, collection: str) -> str:
    """The embedding model a collection was built with (recorded in its metadata)."""
    meta = client.get_collection(collection).metadata or {}
    if not meta.get("embedding_model"):
        raise ValueError(f"collection {collection!r} does not record its embedding model")
    return str(meta["embedding_model"])


def read_base(settings: Settings, store_dir: Path, source: str) -> Base:
    """Documents, chunks, stored lexical tokens and vectors of a store, in document order."""

    store = store_settings(settings, store_dir)
    client = make_client(store)
    model_id = stored_model_id(client, settings.collection)
    engine = open_runtime(store, embedder=PrecomputedVectors(model_id), client=client)
    try:
        snap = engine.store.snapshot
        docs: list[BaseDoc] = []
        for doc_id in sorted(snap.docs):
            doc = snap.docs[doc_id]
            ids = list(snap.by_doc.get(doc_id, ()))
            if not ids:
                continue
            records = engine.store.docstore.chunk_records(ids)
            vectors = _vectors(engine.store.vectors.collection, ids)
            docs.append(BaseDoc(doc=doc, chunks=tuple(records[c][0] for c in ids),
                                tokens=tuple(records[c][1] for c in ids), vectors=vectors))
    finally:
        engine.close()
    return Base(docs=tuple(docs), model_id=model_id, source=source)


def _vectors(collection: Any, ids: Sequence[str]) -> np.ndarray:
    rows: dict[str, np.ndarray] = {}
    for i in range(0, len(ids), _BATCH):
        got = collection.get(ids=list(ids[i:i + _BATCH]), include=["embeddings"])
        rows.update(zip(got["ids"], (np.asarray(e, dtype=np.float32) for e in got["embeddings"]), strict=True))
    missing = [c for c in ids if c not in rows]
    if missing:
        raise ValueError(f"{len(missing)} chunks have no vector in the base store (e.g. {missing[0]})")
    return np.stack([rows[c] for c in ids])


def copy_store(store_dir: Path, target: Path) -> Path:
    """Copy a store so that opening it (which may rebuild its lexical index) never writes into a cache."""
    shutil.copytree(store_dir, target, ignore=shutil.ignore_patterns("write.lock"))
    return target


def ingest_base(settings: Settings, laws_dir: Path, n_laws: int, work: Path) -> tuple[Path, dict[str, Any]]:
    """Ingest the n smallest ALQAC laws with the configured torch embedder into work/base-store.

    Returns the store folder and the ingest throughput measured on the way (evals.bench.throughput.ingest_throughput).
    """

    chosen = smallest_laws(load_laws(laws_dir), n_laws)
    write_converted(chosen, work / "base-laws")
    result = ingest_throughput(work / "base-laws", "torch", settings=settings, data_dir=work / "base-store")
    result["laws"] = [law.law_id for law in chosen]
    return work / "base-store", result

"""The manifest in a Chroma collection, for server mode: every API process reads the same documents and chunks.

Chroma has no multi-record transactions, so a write is ordered to be safe at every point it can stop:
chunk records first, then the document record (the commit point: readers only follow chunk ids a document
lists), then the document's old chunk records go, then the generation changes. A chunk record no document
lists is garbage from a write that stopped half-way; `collect_garbage` deletes it once it is older than a grace
period (another writer may be half-way through right now).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from rag.records import Chunk, DocumentMeta, StoredDocument
from rag.store.manifest_sqlite import chunk_from_json, chunk_to_json, doc_to_json, meta_from_json
from rag.store.vectors import chroma_call

_BATCH = 500
_DOC, _CHUNK, _INFO = "d:", "c:", "i:"
_NO_VECTOR = [1.0]  # Chroma needs an embedding per record; the manifest is never queried by vector


class ChromaDocStore:
    """Owns one Chroma collection holding document, chunk and info records (the client is passed in)."""

    def __init__(self, client: Any, name: str) -> None:
        self.name = name
        self._col = chroma_call(client.get_or_create_collection, name=name, embedding_function=None,
                          metadata={"policyqa": "manifest"})

    def close(self) -> None:
        """The client owns the connection; nothing to release here."""

    # ---- info ------------------------------------------------------------------------------
    def generation(self) -> str:
        return self.get_info("generation") or ""

    def get_info(self, key: str) -> str | None:
        res = chroma_call(self._col.get, ids=[_INFO + key], include=["documents"])
        return res["documents"][0] if res["ids"] else None

    def set_info(self, key: str, value: str) -> None:
        chroma_call(self._col.upsert, ids=[_INFO + key], embeddings=[_NO_VECTOR], documents=[value],
              metadatas=[{"kind": "info"}])

    def _bump(self) -> None:
        self.set_info("generation", uuid.uuid4().hex)

    # ---- documents -------------------------------------------------------------------------
    @staticmethod
    def _doc(text: str, m: dict[str, Any]) -> StoredDocument:
        return StoredDocument(
            doc_id=m["doc_id"], source_key=m["source_key"], root=m.get("root", ""), sha256=m["sha256"],
            format=m["format"], meta=meta_from_json(m["meta"]), text=text,
            chunk_ids=tuple(json.loads(m["chunk_ids"])), warnings=tuple(json.loads(m["warnings"])),
            ingested_at=m["ingested_at"])

    def _pages(self, where: dict[str, Any], include: list[str]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            res = chroma_call(self._col.get, where=where, include=include, limit=_BATCH, offset=offset)
            if not res["ids"]:
                return
            yield res
            offset += len(res["ids"])

    def _find(self, where: dict[str, Any]) -> list[StoredDocument]:
        docs: list[StoredDocument] = []
        for res in self._pages(where, ["documents", "metadatas"]):
            docs.extend(self._doc(t, m) for t, m in zip(res["documents"], res["metadatas"], strict=True))
        return sorted(docs, key=lambda d: d.doc_id)

    def get_document(self, doc_id: str) -> StoredDocument | None:
        res = chroma_call(self._col.get, ids=[_DOC + doc_id], include=["documents", "metadatas"])
        return self._doc(res["documents"][0], res["metadatas"][0]) if res["ids"] else None

    def documents(self) -> list[StoredDocument]:
        return self._find({"kind": "doc"})

    def find_by_source(self, source_key: str) -> StoredDocument | None:
        found = self._find({"$and": [{"kind": "doc"}, {"source_key": source_key}]})
        return found[0] if found else None

    def doc_ids_under_root(self, root: str) -> list[tuple[str, str]]:
        return [(d.doc_id, d.source_key) for d in self._find({"$and": [{"kind": "doc"}, {"root": root}]})]

    def put_document(self, doc: StoredDocument, chunks: Sequence[Chunk], tokens: Sequence[list[str]]) -> None:
        """Chunk records, then the document record (the commit point), then the old chunk records go."""
        old = self.get_document(doc.doc_id)
        now = time.time()
        for i in range(0, len(chunks), _BATCH):
            part, toks = chunks[i:i + _BATCH], tokens[i:i + _BATCH]
            chroma_call(self._col.upsert, ids=[_CHUNK + c.id for c in part], embeddings=[_NO_VECTOR] * len(part),
                  documents=[json.dumps({"record": chunk_to_json(c), "tokens": t}, ensure_ascii=False)
                             for c, t in zip(part, toks, strict=True)],
                  metadatas=[{"kind": "chunk", "doc_id": c.doc_id, "written_at": now} for c in part])
        meta, warnings = doc_to_json(doc)
        chroma_call(self._col.upsert, ids=[_DOC + doc.doc_id], embeddings=[_NO_VECTOR], documents=[doc.text],
              metadatas=[{"kind": "doc", "doc_id": doc.doc_id, "source_key": doc.source_key, "root": doc.root,
                          "sha256": doc.sha256, "format": doc.format, "meta": meta, "warnings": warnings,
                          "ingested_at": doc.ingested_at, "written_at": now,
                          "chunk_ids": json.dumps([c.id for c in chunks])}])
        if old is not None:
            self._delete_chunks(sorted(set(old.chunk_ids) - {c.id for c in chunks}))
        self._bump()

    def set_meta(self, doc_id: str, meta: DocumentMeta) -> bool:
        """Replace a document's metadata only (its chunks and vectors stay); False when it is not stored."""
        res = chroma_call(self._col.get, ids=[_DOC + doc_id], include=["metadatas"])
        if not res["ids"]:
            return False
        m = dict(res["metadatas"][0])
        m["meta"] = json.dumps(asdict(meta), ensure_ascii=False)
        m["written_at"] = time.time()
        chroma_call(self._col.update, ids=[_DOC + doc_id], metadatas=[m])
        self._bump()
        return True

    def delete_document(self, doc_id: str) -> None:
        old = self.get_document(doc_id)
        if old is None:
            return
        chroma_call(self._col.delete, ids=[_DOC + doc_id])
        self._delete_chunks(list(old.chunk_ids))
        self._bump()

    def _delete_chunks(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), _BATCH):
            chroma_call(self._col.delete, ids=[_CHUNK + cid for cid in ids[i:i + _BATCH]])

    # ---- chunks ----------------------------------------------------------------------------
    def chunk_records(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, list[str]]]:
        found: dict[str, tuple[Chunk, list[str]]] = {}
        for i in range(0, len(ids), _BATCH):
            res = chroma_call(self._col.get, ids=[_CHUNK + cid for cid in ids[i:i + _BATCH]], include=["documents"])
            for rid, raw in zip(res["ids"], res["documents"], strict=True):
                data = json.loads(raw)
                found[rid[len(_CHUNK):]] = (chunk_from_json(data["record"]), [sys.intern(t) for t in data["tokens"]])
        return found

    def chunk_ids(self) -> set[str]:
        """Every chunk id a document lists (document metadata only, not their texts)."""
        return {cid for res in self._pages({"kind": "doc"}, ["metadatas"]) for m in res["metadatas"]
                for cid in json.loads(m["chunk_ids"])}

    def collect_garbage(self, keep: set[str], grace_s: float) -> int:
        """Delete chunk records not in `keep` (the ids documents list) written more than grace_s ago; how many."""
        cutoff = time.time() - grace_s
        orphans = [rid[len(_CHUNK):] for res in self._pages({"kind": "chunk"}, ["metadatas"])
                   for rid, m in zip(res["ids"], res["metadatas"], strict=True)
                   if rid[len(_CHUNK):] not in keep and float(m.get("written_at", 0)) <= cutoff]
        self._delete_chunks(orphans)
        return len(orphans)

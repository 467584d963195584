"""The manifest: what is ingested (documents with metadata, full text and source; their chunks and lexical tokens).

Two backends share one interface: SQLite in the data dir (the embedded store) and a Chroma collection on the
Chroma server (rag/store/manifest_chroma.py), so API processes on several machines read one manifest. A document
record is the commit point: its chunk records are written first and only count once a document lists them.
Every committed write changes the manifest's generation, which readers poll to know when to reload.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

from rag.records import Chunk, DocumentMeta, Footnote, OcrWord, StoredDocument, ValidityFact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source_key TEXT NOT NULL,
    root TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    meta TEXT NOT NULL,
    text TEXT NOT NULL,
    warnings TEXT NOT NULL DEFAULT '[]',
    ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source_key);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    record TEXT NOT NULL,
    tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ordinal);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def chunk_to_json(chunk: Chunk) -> str:
    return json.dumps(asdict(chunk), ensure_ascii=False)


def tokens_from_json(raw: str) -> list[str]:
    """Lexical tokens, interned as they are read: one string object per distinct token, not per occurrence
    (the snapshot keeps every chunk's tokens; interning before the next record keeps the peak low too)."""
    return [sys.intern(t) for t in json.loads(raw)]


def chunk_from_json(raw: str) -> Chunk:
    d = json.loads(raw)
    d["footnotes"] = tuple(Footnote(**f) for f in d.get("footnotes", ()))
    d["pages"] = tuple(d.get("pages", ()))
    d["page_starts"] = tuple(d.get("page_starts", ()))
    d["words"] = tuple(OcrWord(**{**w, "box": tuple(w["box"])}) for w in d.get("words", ()))
    return Chunk(**d)


def meta_from_json(raw: str) -> DocumentMeta:
    d = json.loads(raw)
    d["recipients"] = tuple(d.get("recipients", ()))
    d["cc"] = tuple(d.get("cc", ()))
    d["validity"] = tuple(ValidityFact(**f) for f in d.get("validity", ()))
    d["ocr_pages"] = tuple(d.get("ocr_pages", ()))
    return DocumentMeta(**d)


def doc_to_json(doc: StoredDocument) -> tuple[str, str]:
    """(meta, warnings) of a document as JSON text, as both backends store them."""
    return json.dumps(asdict(doc.meta), ensure_ascii=False), json.dumps(list(doc.warnings), ensure_ascii=False)


class DocStore(Protocol):
    """What the store needs of a manifest backend."""

    def close(self) -> None: ...
    def generation(self) -> str: ...
    def get_info(self, key: str) -> str | None: ...
    def set_info(self, key: str, value: str) -> None: ...
    def get_document(self, doc_id: str) -> StoredDocument | None: ...
    def documents(self) -> list[StoredDocument]: ...
    def find_by_source(self, source_key: str) -> StoredDocument | None: ...
    def doc_ids_under_root(self, root: str) -> list[tuple[str, str]]: ...
    def put_document(self, doc: StoredDocument, chunks: Sequence[Chunk], tokens: Sequence[list[str]]) -> None: ...
    def delete_document(self, doc_id: str) -> None: ...
    def set_meta(self, doc_id: str, meta: DocumentMeta) -> bool: ...
    def chunk_records(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, list[str]]]: ...
    def chunk_ids(self) -> set[str]: ...
    def collect_garbage(self, keep: set[str], grace_s: float) -> int: ...


class SqliteDocStore:
    """Owns one SQLite connection; every write is one transaction, so readers never see half a document."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write that also changes the generation (readers in other processes poll it)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("INSERT OR REPLACE INTO info(key, value) VALUES('generation', ?)",
                                 (uuid.uuid4().hex,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ---- info ------------------------------------------------------------------------------
    def generation(self) -> str:
        return self.get_info("generation") or ""

    def get_info(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM info WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_info(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO info(key, value) VALUES(?, ?)", (key, value))

    # ---- documents -------------------------------------------------------------------------
    _DOC_COLUMNS = "doc_id, source_key, root, sha256, format, meta, text, warnings, ingested_at"

    @staticmethod
    def _doc_from_row(row: sqlite3.Row | tuple, chunk_ids: tuple[str, ...]) -> StoredDocument:
        doc_id, source_key, root, sha, fmt, meta, text, warnings, ingested_at = row
        return StoredDocument(doc_id=doc_id, source_key=source_key, root=root, sha256=sha, format=fmt,
                              meta=meta_from_json(meta), text=text, chunk_ids=chunk_ids,
                              warnings=tuple(json.loads(warnings)), ingested_at=ingested_at)

    def get_document(self, doc_id: str) -> StoredDocument | None:
        with self._lock:
            row = self._db.execute(f"SELECT {self._DOC_COLUMNS} FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
            if row is None:
                return None
            ids = tuple(r[0] for r in self._db.execute(
                "SELECT id FROM chunks WHERE doc_id=? ORDER BY ordinal", (doc_id,)))
        return self._doc_from_row(row, ids)

    def documents(self) -> list[StoredDocument]:
        with self._lock:
            rows = self._db.execute(f"SELECT {self._DOC_COLUMNS} FROM documents ORDER BY doc_id").fetchall()
            ids: dict[str, list[str]] = {}
            for doc_id, cid in self._db.execute("SELECT doc_id, id FROM chunks ORDER BY doc_id, ordinal"):
                ids.setdefault(doc_id, []).append(cid)
        return [self._doc_from_row(r, tuple(ids.get(r[0], ()))) for r in rows]

    def find_by_source(self, source_key: str) -> StoredDocument | None:
        with self._lock:
            row = self._db.execute("SELECT doc_id FROM documents WHERE source_key=?", (source_key,)).fetchone()
        return self.get_document(row[0]) if row else None

    def doc_ids_under_root(self, root: str) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._db.execute("SELECT doc_id, source_key FROM documents WHERE root=?", (root,)))

    def put_document(self, doc: StoredDocument, chunks: Sequence[Chunk], tokens: Sequence[list[str]]) -> None:
        """Replace a document and all its chunks in one transaction."""
        meta, warnings = doc_to_json(doc)
        with self._transaction() as conn:
            conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc.doc_id,))
            conn.execute("DELETE FROM documents WHERE doc_id=?", (doc.doc_id,))
            conn.execute(
                f"INSERT INTO documents({self._DOC_COLUMNS}) VALUES(?,?,?,?,?,?,?,?,?)",
                (doc.doc_id, doc.source_key, doc.root, doc.sha256, doc.format, meta, doc.text, warnings,
                 doc.ingested_at))
            conn.executemany(
                "INSERT INTO chunks(id, doc_id, ordinal, record, tokens) VALUES(?,?,?,?,?)",
                [(c.id, c.doc_id, c.ordinal, chunk_to_json(c), json.dumps(t, ensure_ascii=False))
                 for c, t in zip(chunks, tokens, strict=True)])

    def set_meta(self, doc_id: str, meta: DocumentMeta) -> bool:
        """Replace a document's metadata only (its chunks and vectors stay); False when it is not stored."""
        raw = json.dumps(asdict(meta), ensure_ascii=False)
        with self._transaction() as conn:
            return conn.execute("UPDATE documents SET meta=? WHERE doc_id=?", (raw, doc_id)).rowcount > 0

    def delete_document(self, doc_id: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
            conn.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))

    # ---- chunks ----------------------------------------------------------------------------
    def chunk_records(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, list[str]]]:
        """Chunks with their lexical tokens, by id (ids not stored are absent)."""
        found: dict[str, tuple[Chunk, list[str]]] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                part = list(ids[i:i + 500])
                marks = ",".join("?" * len(part))
                for cid, record, tokens in self._db.execute(
                        f"SELECT id, record, tokens FROM chunks WHERE id IN ({marks})", part):
                    found[cid] = (chunk_from_json(record), tokens_from_json(tokens))
        return found

    def chunk_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM chunks")}

    def collect_garbage(self, keep: set[str], grace_s: float) -> int:
        """Nothing to collect: a document and its chunks are written in one transaction."""
        return 0

"""SQLite record of what is ingested: documents (metadata, full text, source) and their chunks."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from rag.types import Chunk, DocumentMeta, Footnote, StoredDocument

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


def chunk_from_json(raw: str) -> Chunk:
    d = json.loads(raw)
    d["footnotes"] = tuple(Footnote(**f) for f in d.get("footnotes", ()))
    return Chunk(**d)


def meta_from_json(raw: str) -> DocumentMeta:
    d = json.loads(raw)
    d["recipients"] = tuple(d.get("recipients", ()))
    d["cc"] = tuple(d.get("cc", ()))
    return DocumentMeta(**d)


class DocStore:
    """Owns one SQLite connection; every write is one transaction, so readers never see half a document."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ---- info ------------------------------------------------------------------------------
    def get_info(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM info WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_info(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO info(key, value) VALUES(?, ?)", (key, value))

    # ---- documents -------------------------------------------------------------------------
    def _doc_from_row(self, row: sqlite3.Row | tuple, chunk_ids: tuple[str, ...]) -> StoredDocument:
        doc_id, source_key, root, sha, fmt, meta, text, warnings, ingested_at = row
        return StoredDocument(doc_id=doc_id, source_key=source_key, root=root, sha256=sha, format=fmt,
                              meta=meta_from_json(meta), text=text, chunk_ids=chunk_ids,
                              warnings=tuple(json.loads(warnings)), ingested_at=ingested_at)

    def get_document(self, doc_id: str) -> StoredDocument | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc_id, source_key, root, sha256, format, meta, text, warnings, ingested_at "
                "FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
            if row is None:
                return None
            ids = tuple(r[0] for r in self._db.execute(
                "SELECT id FROM chunks WHERE doc_id=? ORDER BY ordinal", (doc_id,)))
        return self._doc_from_row(row, ids)

    def documents(self) -> list[StoredDocument]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, source_key, root, sha256, format, meta, text, warnings, ingested_at "
                "FROM documents ORDER BY doc_id").fetchall()
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

    def put_document(self, conn: sqlite3.Connection, doc: StoredDocument, chunks: Sequence[Chunk],
                     tokens: Sequence[list[str]]) -> None:
        """Replace a document and all its chunks (inside the caller's transaction)."""
        conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc.doc_id,))
        conn.execute("DELETE FROM documents WHERE doc_id=?", (doc.doc_id,))
        conn.execute(
            "INSERT INTO documents(doc_id, source_key, root, sha256, format, meta, text, warnings, ingested_at) "
            "VALUES(?,?,?,?,?,?,?,?,?)",
            (doc.doc_id, doc.source_key, doc.root, doc.sha256, doc.format,
             json.dumps(asdict(doc.meta), ensure_ascii=False), doc.text,
             json.dumps(list(doc.warnings), ensure_ascii=False), doc.ingested_at))
        conn.executemany(
            "INSERT INTO chunks(id, doc_id, ordinal, record, tokens) VALUES(?,?,?,?,?)",
            [(c.id, c.doc_id, c.ordinal, chunk_to_json(c), json.dumps(t, ensure_ascii=False))
             for c, t in zip(chunks, tokens, strict=True)])

    @staticmethod
    def delete_document(conn: sqlite3.Connection, doc_id: str) -> None:
        conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
        conn.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))

    # ---- chunks ----------------------------------------------------------------------------
    def all_chunks(self) -> list[tuple[Chunk, list[str]]]:
        """Every chunk with its lexical tokens, in (doc_id, ordinal) order."""
        with self._lock:
            rows = self._db.execute("SELECT record, tokens FROM chunks ORDER BY doc_id, ordinal").fetchall()
        return [(chunk_from_json(r), json.loads(t)) for r, t in rows]

    def tokens_of(self, doc_id: str) -> dict[str, list[str]]:
        """Lexical tokens of a document's stored chunks, by chunk id."""
        with self._lock:
            rows = self._db.execute("SELECT id, tokens FROM chunks WHERE doc_id=?", (doc_id,)).fetchall()
        return {cid: json.loads(t) for cid, t in rows}

    def counts(self) -> tuple[int, int]:
        with self._lock:
            docs = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def chunk_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM chunks")}

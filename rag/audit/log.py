"""The append-only audit log: one SQLite file beside the store (data_dir/audit.sqlite, WAL), hash-chained.

Several API processes may append at once: `BEGIN IMMEDIATE` takes the write lock before the last hash is read,
so reading it and inserting the next record is one atomic step. Pruning old records keeps verification
possible: the hash of the last pruned record is kept as the anchor the oldest remaining record must point to.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rag.audit.record import GENESIS, AuditRecord, body_of, canonical, record_from_json, record_hash
from rag.sqlite_file import open_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    key_id TEXT NOT NULL,
    role TEXT NOT NULL,
    client TEXT NOT NULL,
    route TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER,
    citations TEXT NOT NULL,
    removed_sentences INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    status_code INTEGER NOT NULL,
    corpus_version TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    key_groups TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS audit_time ON audit(time);
CREATE INDEX IF NOT EXISTS audit_key ON audit(key_id, time);
CREATE TABLE IF NOT EXISTS audit_anchor (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL,  -- the last pruned record's seq
    hash TEXT NOT NULL     -- and its hash: the oldest remaining record's prev_hash
);
"""
_COLUMNS = ("id", "time", "key_id", "role", "client", "route", "question", "answer", "abstained", "citations",
            "removed_sentences", "latency_ms", "status_code", "corpus_version", "detail", "prev_hash", "key_groups",
            "hash")
PRUNE_EVERY_S = 3600.0


class AuditUnavailable(RuntimeError):
    """The audit file cannot be opened, read or written."""


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain: ok, how many records, or the first broken one and why."""

    ok: bool
    count: int
    broken_id: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class AuditQuery:
    since: str | None = None  # ISO times, inclusive
    until: str | None = None
    route: str | None = None
    key_id: str | None = None
    limit: int | None = None
    newest_first: bool = False  # with `limit`: the newest records, not the oldest


def _row_values(record: AuditRecord) -> tuple[Any, ...]:
    body = {**body_of(record), "key_groups": list(record.groups)}
    return (*(body[c] if c not in ("citations", "detail", "key_groups") else canonical(body[c])
              for c in _COLUMNS[:-1]), record.hash)


def _row_record(row: sqlite3.Row) -> AuditRecord:
    data = {c: row[c] for c in _COLUMNS}
    data["citations"] = json.loads(data["citations"])
    data["detail"] = json.loads(data["detail"])
    data["groups"] = tuple(json.loads(data.pop("key_groups")))
    data["abstained"] = None if data["abstained"] is None else bool(data["abstained"])
    return record_from_json(data)


class AuditLog:
    """Owns one SQLite connection to the audit file, opened on first use (constructing it touches no disk)."""

    def __init__(self, path: Path, retention_days: int = 0) -> None:
        self.path = path
        self.retention_days = retention_days
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._last_prune = 0.0

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                db = open_wal(self.path, _SCHEMA)
                if "key_groups" not in {r[1] for r in db.execute("PRAGMA table_info(audit)")}:  # an older file
                    db.execute("ALTER TABLE audit ADD COLUMN key_groups TEXT NOT NULL DEFAULT '[]'")
            except (sqlite3.Error, OSError) as exc:
                raise AuditUnavailable(f"cannot open the audit log {self.path}: {exc}") from exc
            self._db = db
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def append(self, record: AuditRecord) -> AuditRecord:
        """Chain the record to the last one and store it; returns it with prev_hash and hash set."""
        with self._lock:
            try:
                db = self._conn()
                db.execute("BEGIN IMMEDIATE")
                try:
                    prev = self._last_hash(db)
                    body = {**body_of(record), "prev_hash": prev}
                    chained = record_from_json({**body, "hash": record_hash(body)})
                    db.execute(f"INSERT INTO audit ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                               _row_values(chained))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise AuditUnavailable(f"cannot write the audit log {self.path}: {exc}") from exc
        if self.retention_days and time.monotonic() - self._last_prune > PRUNE_EVERY_S:
            self._last_prune = time.monotonic()
            self.prune(datetime.now(UTC) - timedelta(days=self.retention_days))
        return chained

    @staticmethod
    def _last_hash(db: sqlite3.Connection) -> str:
        row = db.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        if row is not None:
            return str(row["hash"])
        anchor = db.execute("SELECT hash FROM audit_anchor").fetchone()
        return str(anchor["hash"]) if anchor else GENESIS

    def prune(self, before: datetime) -> int:
        """Delete records older than `before`, keeping the last deleted record's hash as the chain's anchor."""
        cutoff = before.astimezone(UTC).isoformat(timespec="milliseconds")
        with self._lock:
            try:
                db = self._conn()
                db.execute("BEGIN IMMEDIATE")
                try:
                    last = db.execute("SELECT seq, hash FROM audit WHERE time < ? ORDER BY seq DESC LIMIT 1",
                                      (cutoff,)).fetchone()
                    if last is None:
                        db.execute("ROLLBACK")
                        return 0
                    n = db.execute("DELETE FROM audit WHERE seq <= ?", (last["seq"],)).rowcount
                    db.execute("INSERT OR REPLACE INTO audit_anchor (one, seq, hash) VALUES (1, ?, ?)",
                               (last["seq"], last["hash"]))
                    db.execute("COMMIT")
                    return int(n)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise AuditUnavailable(f"cannot prune the audit log {self.path}: {exc}") from exc

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return list(self._conn().execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise AuditUnavailable(f"cannot read the audit log {self.path}: {exc}") from exc

    def get(self, record_id: str) -> AuditRecord | None:
        """One record by id, or None."""
        rows = self._rows("SELECT * FROM audit WHERE id = ?", (record_id,))
        return _row_record(rows[0]) if rows else None

    def query(self, q: AuditQuery) -> list[AuditRecord]:
        """Records matching the filters, oldest first."""
        where, params = [], []
        for column, op, value in (("time", ">=", q.since), ("time", "<=", q.until), ("route", "=", q.route),
                                  ("key_id", "=", q.key_id)):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        sql = ("SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
               + (" DESC" if q.newest_first else ""))
        if q.limit is not None:
            sql += " LIMIT ?"
            params.append(str(q.limit))
        return [_row_record(r) for r in self._rows(sql, tuple(params))]

    def iter_rows(self) -> Iterator[sqlite3.Row]:
        yield from self._rows("SELECT * FROM audit ORDER BY seq")

    def verify(self) -> Verification:
        """Walk the chain from the anchor: each record's hash must match its fields, and its prev_hash the hash
        of the record before it."""
        anchor = self._rows("SELECT seq, hash FROM audit_anchor")
        expected_prev = str(anchor[0]["hash"]) if anchor else GENESIS
        expected_seq = int(anchor[0]["seq"]) + 1 if anchor else None
        count = 0
        for row in self.iter_rows():
            rid = str(row["id"])
            try:
                record = _row_record(row)
            except (ValueError, TypeError) as exc:
                return Verification(False, count, rid, f"unreadable fields: {exc}")
            body = body_of(record)
            if record_hash(body) != record.hash:
                return Verification(False, count, rid, "its fields do not match its hash (the record was changed)")
            if record.prev_hash != expected_prev:
                return Verification(False, count, rid, "its prev_hash is not the hash of the record before it "
                                    "(a record before it was removed or changed)")
            if expected_seq is not None and row["seq"] != expected_seq:
                return Verification(False, count, rid, f"records {expected_seq}..{row['seq'] - 1} are missing")
            expected_prev, expected_seq = record.hash, int(row["seq"]) + 1
            count += 1
        return Verification(True, count)

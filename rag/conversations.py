"""Saved conversations: each belongs to one owner (a key's fingerprint, or the client address when the API
is open) and holds its exchanges, kept in SQLite next to the store so they survive restarts.

Every read and write names the owner, so one key never lists, reads, renames, continues or deletes another
key's conversation: a wrong owner looks exactly like a missing id. Several API processes may share the file
(WAL, one transaction per write), as they share the audit file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.records import Turn
from rag.sqlite_file import open_wal

TITLE_CHARS = 120  # a conversation's title; the first question, cut, when none is given
MAX_EXCHANGES = 500  # per conversation: appending beyond refuses (a new conversation is one click away)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated_at);
CREATE TABLE IF NOT EXISTS exchanges (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    time TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,  -- the answer's public JSON (rag.shapes.answer_to_json, with answer_id)
    PRIMARY KEY (conversation_id, seq)
);
"""


class ConversationsUnavailable(RuntimeError):
    """The conversations file cannot be opened, read or written."""


class ConversationFull(ValueError):
    """The conversation already holds MAX_EXCHANGES exchanges."""


@dataclass(frozen=True)
class Exchange:
    """One question and its answer as it was given (the answer's public JSON: text, citations, abstained…)."""

    seq: int
    time: str
    question: str
    answer: dict[str, Any]

    @property
    def answer_text(self) -> str:
        return str(self.answer.get("answer") or "")


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created_at: str
    updated_at: str
    exchanges: int
    turns: tuple[Exchange, ...] = ()  # filled by `get`, empty in listings

    def history(self, max_turns: int) -> list[Turn]:
        """The stored exchanges as chat history for a follow-up: the newest `max_turns` messages."""
        turns: list[Turn] = []
        for ex in self.turns:
            turns += [Turn("user", ex.question), Turn("assistant", ex.answer_text)]
        return turns[-max_turns:] if max_turns > 0 else []


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def default_title(question: str) -> str:
    words = " ".join(question.split())
    return words if len(words) <= TITLE_CHARS else words[: TITLE_CHARS - 1].rstrip() + "…"


class ConversationStore:
    """Owns one SQLite connection to the conversations file, opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                db = open_wal(self.path, _SCHEMA, foreign_keys=True)
            except (sqlite3.Error, OSError) as exc:
                raise ConversationsUnavailable(f"cannot open {self.path}: {exc}") from exc
            self._db = db
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn().execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise ConversationsUnavailable(f"conversations file {self.path}: {exc}") from exc

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> int:
        """Run statements in one transaction; returns the rows the first one changed."""
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                changed = 0
                for i, (sql, args) in enumerate(statements):
                    n = db.execute(sql, args).rowcount
                    if i == 0:
                        changed = n
                        if n == 0:
                            break
                db.execute("COMMIT")
                return changed
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise ConversationsUnavailable(f"conversations file {self.path}: {exc}") from exc

    # ---- reading ---------------------------------------------------------------------------
    def list(self, owner: str) -> list[Conversation]:
        """The owner's conversations, the most recently used first."""
        rows = self._run(
            "SELECT c.*, (SELECT COUNT(*) FROM exchanges e WHERE e.conversation_id = c.id) AS n "
            "FROM conversations c WHERE owner = ? ORDER BY updated_at DESC, id", (owner,))
        return [Conversation(r["id"], r["title"], r["created_at"], r["updated_at"], r["n"]) for r in rows]

    def get(self, owner: str, conversation_id: str) -> Conversation | None:
        """One conversation with its exchanges, or None (also when it is another owner's)."""
        rows = self._run("SELECT * FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner))
        if not rows:
            return None
        r = rows[0]
        turns = tuple(Exchange(x["seq"], x["time"], x["question"], json.loads(x["answer"])) for x in self._run(
            "SELECT * FROM exchanges WHERE conversation_id = ? ORDER BY seq", (conversation_id,)))
        return Conversation(r["id"], r["title"], r["created_at"], r["updated_at"], len(turns), turns)

    # ---- writing ---------------------------------------------------------------------------
    def create(self, owner: str, title: str = "") -> Conversation:
        now, cid = _now(), uuid.uuid4().hex
        title = default_title(title) if title.strip() else ""
        self._write([("INSERT INTO conversations(id, owner, title, created_at, updated_at) VALUES(?,?,?,?,?)",
                      (cid, owner, title, now, now))])
        return Conversation(cid, title, now, now, 0)

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        return self._write([("UPDATE conversations SET title = ?, updated_at = ? WHERE id = ? AND owner = ?",
                             (default_title(title), _now(), conversation_id, owner))]) > 0

    def delete(self, owner: str, conversation_id: str) -> bool:
        return self._write([("DELETE FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner))]) > 0

    def append(self, owner: str, conversation_id: str, question: str, answer: dict[str, Any]) -> bool:
        """Add one exchange (the first names an untitled conversation); False when it is not the owner's.
        Raises ConversationFull past MAX_EXCHANGES."""
        conv = self._run("SELECT title, (SELECT COUNT(*) FROM exchanges WHERE conversation_id = ?) AS n "
                         "FROM conversations WHERE id = ? AND owner = ?", (conversation_id, conversation_id, owner))
        if not conv:
            return False
        if conv[0]["n"] >= MAX_EXCHANGES:
            raise ConversationFull(f"the conversation holds {MAX_EXCHANGES} exchanges; start a new one")
        now = _now()
        title = conv[0]["title"] or default_title(question)
        return self._write([
            ("UPDATE conversations SET updated_at = ?, title = ? WHERE id = ? AND owner = ?",
             (now, title, conversation_id, owner)),
            ("INSERT INTO exchanges(conversation_id, seq, time, question, answer) VALUES(?, (SELECT COALESCE(MAX(seq),"
             " 0) + 1 FROM exchanges WHERE conversation_id = ?), ?, ?, ?)",
             (conversation_id, conversation_id, now, question, json.dumps(answer, ensure_ascii=False))),
        ]) > 0

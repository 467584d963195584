"""Durable 👍/👎 feedback on answers: one SQLite row per (session, answer), exported for maintainers."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.sqlite_file import open_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    citations TEXT NOT NULL,
    filters TEXT NOT NULL DEFAULT '{}',
    settings TEXT NOT NULL,
    UNIQUE (session_id, turn)
);
"""


@dataclass(frozen=True)
class FeedbackEntry:
    """What one rating records: the exchange as the user saw it, and the settings that produced it."""

    session_id: str
    turn: int  # index of the answer within the conversation
    rating: int  # +1 or -1
    question: str
    answer: str
    abstained: bool
    citations: list[dict[str, Any]]
    settings: dict[str, Any]
    filters: dict[str, Any] | None = None
    comment: str = ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FeedbackStore:
    """Owns one SQLite file; opened on first use so building the UI touches no disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = open_wal(self.path, _SCHEMA, rows=False)
        return self._db

    def rate(self, entry: FeedbackEntry) -> int:
        """Store or replace the rating of one answer (a new comment replaces the old one when given)."""
        if entry.rating not in (-1, 1):
            raise ValueError("rating must be +1 or -1")
        now = _now()
        with self._lock:
            db = self._conn()
            db.execute(
                "INSERT INTO feedback (session_id, turn, created_at, updated_at, rating, comment, question,"
                " answer, abstained, citations, filters, settings) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (session_id, turn) DO UPDATE SET rating=excluded.rating,"
                " updated_at=excluded.updated_at,"
                " comment=CASE WHEN excluded.comment != '' THEN excluded.comment ELSE comment END",
                (entry.session_id, entry.turn, now, now, entry.rating, entry.comment, entry.question,
                 entry.answer, int(entry.abstained), json.dumps(entry.citations, ensure_ascii=False),
                 json.dumps(entry.filters or {}, ensure_ascii=False),
                 json.dumps(entry.settings, ensure_ascii=False)))
            row = db.execute("SELECT id FROM feedback WHERE session_id=? AND turn=?",
                             (entry.session_id, entry.turn)).fetchone()
        return int(row[0])

    def comment(self, session_id: str, turn: int, comment: str) -> bool:
        """Attach a comment to an answer already rated; False when it was not rated."""
        with self._lock:
            cur = self._conn().execute(
                "UPDATE feedback SET comment=?, updated_at=? WHERE session_id=? AND turn=?",
                (comment.strip()[:4000], _now(), session_id, turn))
        return cur.rowcount > 0

    def withdraw(self, session_id: str, turn: int) -> None:
        """Forget a rating the user took back."""
        with self._lock:
            self._conn().execute("DELETE FROM feedback WHERE session_id=? AND turn=?", (session_id, turn))

    def export(self) -> list[dict[str, Any]]:
        """Every rating, oldest first, with JSON columns decoded."""
        if not self.path.exists():
            return []
        with self._lock:
            cur = self._conn().execute("SELECT * FROM feedback ORDER BY id")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        for r in rows:
            r["abstained"] = bool(r["abstained"])
            for key in ("citations", "filters", "settings"):
                r[key] = json.loads(r[key])
        return rows

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

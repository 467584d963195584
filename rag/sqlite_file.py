"""One way to open the small SQLite files beside the store (audit trail, conversations, feedback): WAL, no
implicit transactions, usable from the thread pool, the schema applied, the folder made."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_wal(path: Path, schema: str, *, foreign_keys: bool = False, rows: bool = True) -> sqlite3.Connection:
    """A connection to `path` in WAL mode with `schema` applied (sqlite3.Error or OSError when it cannot)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
    if rows:
        db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    if foreign_keys:
        db.execute("PRAGMA foreign_keys=ON")
    db.executescript(schema)
    return db

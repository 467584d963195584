"""The audit log on a real SQLite file: chaining, tamper detection, pruning, concurrent appends."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rag.audit.log import AuditLog, AuditQuery, AuditUnavailable
from rag.audit.record import GENESIS, AuditCitation, AuditRecord, new_id

QUESTION = "Các cơ quan báo chí Trung ương và địa phương cần làm gì?"


def make_record(i: int = 0, *, time: str | None = None, route: str = "ask", key_id: str = "key:abc") -> AuditRecord:
    cite = AuditCitation(n=1, chunk_id=f"c{i}", doc_id="d1", content_hash="ab" * 32, status="in_force",
                         title="Công văn", quote="Thông tin tuyên truyền")
    return AuditRecord(id=new_id(), time=time or datetime.now(UTC).isoformat(timespec="milliseconds"),
                       key_id=key_id, role="reader", client="127.0.0.1", route=route, question=f"{QUESTION} {i}",
                       answer="Đẩy mạnh tuyên truyền [1].", abstained=False, citations=(cite,),
                       removed_sentences=1, latency_ms=12.5, corpus_version="v1")


@pytest.fixture
def log(tmp_path: Path):  # noqa: ANN201
    audit = AuditLog(tmp_path / "audit.sqlite")
    yield audit
    audit.close()


def fill(log: AuditLog, n: int) -> list[AuditRecord]:
    return [log.append(make_record(i)) for i in range(n)]


def test_append_chains_records_and_reads_them_back(log: AuditLog) -> None:
    written = fill(log, 3)
    assert written[0].prev_hash == GENESIS
    assert [r.prev_hash for r in written[1:]] == [r.hash for r in written[:-1]]
    assert log.get(written[1].id) == written[1]  # every field round-trips, Vietnamese text included
    assert log.verify().ok and log.verify().count == 3
    mode = sqlite3.connect(log.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


@pytest.mark.parametrize(("column", "value"), [
    ("question", "Câu hỏi khác"), ("answer", "x"), ("abstained", 1), ("citations", "[]"), ("key_id", "key:evil"),
    ("latency_ms", 1.0), ("time", "2020-01-01T00:00:00.000+00:00"), ("route", "search"), ("detail", '{"a":1}'),
    ("prev_hash", "f" * 64), ("hash", "0" * 64), ("removed_sentences", 0), ("client", "10.0.0.1"),
])
def test_tampering_with_any_field_is_detected_at_that_record(log: AuditLog, column: str, value: object) -> None:
    written = fill(log, 4)
    with sqlite3.connect(log.path) as db:
        db.execute(f"UPDATE audit SET {column} = ? WHERE id = ?", (value, written[2].id))
    result = log.verify()
    assert not result.ok
    assert result.broken_id == written[2].id
    assert result.count == 2


def test_deleting_a_middle_record_is_detected_at_the_next_one(log: AuditLog) -> None:
    written = fill(log, 5)
    with sqlite3.connect(log.path) as db:
        db.execute("DELETE FROM audit WHERE id = ?", (written[2].id,))
    result = log.verify()
    assert not result.ok and result.broken_id == written[3].id
    assert "prev_hash" in result.reason


def test_pruning_keeps_the_chain_verifiable(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")
    old = datetime.now(UTC) - timedelta(days=40)
    for i in range(3):
        log.append(make_record(i, time=(old + timedelta(minutes=i)).isoformat(timespec="milliseconds")))
    recent = fill(log, 2)
    assert log.prune(datetime.now(UTC) - timedelta(days=30)) == 3
    assert [r.id for r in log.query(AuditQuery())] == [r.id for r in recent]
    assert log.verify().ok and log.verify().count == 2
    later = log.append(make_record(9))  # the chain goes on from the remaining records
    assert later.prev_hash == recent[-1].hash and log.verify().ok
    # removing the oldest remaining record is still detected, against the anchor
    with sqlite3.connect(log.path) as db:
        db.execute("DELETE FROM audit WHERE id = ?", (recent[0].id,))
    assert log.verify().broken_id == recent[1].id
    log.close()


def test_pruning_everything_anchors_the_next_record(log: AuditLog) -> None:
    last = fill(log, 2)[-1]
    assert log.prune(datetime.now(UTC) + timedelta(days=1)) == 2
    nxt = log.append(make_record(5))
    assert nxt.prev_hash == last.hash and log.verify().ok


def test_query_filters(log: AuditLog) -> None:
    log.append(make_record(0, time="2026-01-01T00:00:00.000+00:00", route="search", key_id="key:a"))
    log.append(make_record(1, time="2026-02-01T00:00:00.000+00:00", route="ask", key_id="key:b"))
    log.append(make_record(2, time="2026-03-01T00:00:00.000+00:00", route="ask", key_id="key:a"))
    assert [r.route for r in log.query(AuditQuery(route="search"))] == ["search"]
    assert [r.question[-1] for r in log.query(AuditQuery(key_id="key:a"))] == ["0", "2"]
    assert [r.question[-1] for r in log.query(AuditQuery(since="2026-01-15", until="2026-02-15"))] == ["1"]
    assert len(log.query(AuditQuery(limit=2))) == 2


def test_an_unopenable_path_raises_audit_unavailable(tmp_path: Path) -> None:
    (tmp_path / "audit.sqlite").mkdir()  # a directory where the file should be
    log = AuditLog(tmp_path / "audit.sqlite")
    with pytest.raises(AuditUnavailable):
        log.append(make_record())


def _append_many(path: str, n: int, tag: str) -> None:
    log = AuditLog(Path(path))
    for i in range(n):
        log.append(make_record(i, key_id=f"key:{tag}"))
    log.close()


def test_two_processes_appending_at_once_keep_the_chain_valid(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    AuditLog(path).verify()  # create the file (and WAL mode) before the race
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), 200, tag)) for tag in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    log = AuditLog(path)
    result = log.verify()
    assert result.ok, result
    assert result.count == 400
    keys = [r.key_id for r in log.query(AuditQuery())]
    assert keys.count("key:p1") == 200 and keys.count("key:p2") == 200
    log.close()

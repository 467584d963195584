"""`policyqa audit verify|export|prune` on a real audit file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from policyqa.cli import app
from policyqa.context import CliContext
from rag.audit.log import AuditLog
from rag.settings import Settings
from tests.rag.test_audit_log import make_record


def _state(tmp_path: Path, **overrides: object) -> CliContext:
    return CliContext(settings=Settings(data_dir=tmp_path, **overrides))  # type: ignore[arg-type]


def _fill(tmp_path: Path, times: list[str]) -> list[str]:
    log = AuditLog(tmp_path / "audit.sqlite")
    ids = [log.append(make_record(i, time=t)).id for i, t in enumerate(times)]
    log.close()
    return ids


TIMES = ["2026-01-01T00:00:00.000+00:00", "2026-02-01T00:00:00.000+00:00", "2026-03-01T00:00:00.000+00:00"]


def test_verify_ok_then_broken_with_exit_1(tmp_path: Path) -> None:
    ids = _fill(tmp_path, TIMES)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"], obj=_state(tmp_path))
    assert ok.exit_code == 0 and "OK: 3 records" in ok.output
    with sqlite3.connect(tmp_path / "audit.sqlite") as db:
        db.execute("UPDATE audit SET question = 'đã sửa' WHERE id = ?", (ids[1],))
    bad = runner.invoke(app, ["audit", "verify"], obj=_state(tmp_path))
    assert bad.exit_code == 1 and ids[1] in bad.output and "changed" in bad.output


def test_export_json_jsonl_and_since(tmp_path: Path) -> None:
    ids = _fill(tmp_path, TIMES)
    runner = CliRunner()
    every = json.loads(runner.invoke(app, ["audit", "export"], obj=_state(tmp_path)).output)
    assert [r["id"] for r in every] == ids and every[0]["question"].startswith("Các cơ quan báo chí")
    lines = runner.invoke(app, ["audit", "export", "--jsonl", "--since", "2026-02-01"], obj=_state(tmp_path))
    assert [json.loads(x)["id"] for x in lines.output.splitlines()] == ids[1:]
    assert runner.invoke(app, ["audit", "export", "--since", "febuary"], obj=_state(tmp_path)).exit_code == 2


def test_prune_keeps_verify_ok(tmp_path: Path) -> None:
    _fill(tmp_path, TIMES)
    _fill(tmp_path, ["2999-01-01T00:00:00.000+00:00"])  # a record newer than any retention
    runner = CliRunner()
    kept = runner.invoke(app, ["audit", "prune"], obj=_state(tmp_path))
    assert "nothing pruned" in kept.output
    pruned = runner.invoke(app, ["audit", "prune"], obj=_state(tmp_path, audit_retention_days=30))
    assert pruned.exit_code == 0 and "pruned 3 records" in pruned.output
    ok = runner.invoke(app, ["audit", "verify"], obj=_state(tmp_path))
    assert ok.exit_code == 0 and "OK: 1 records" in ok.output

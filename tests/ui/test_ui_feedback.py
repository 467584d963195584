"""The feedback store (SQLite in the data dir) and `policyqa feedback export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from policyqa.cli import app
from policyqa.context import CliContext
from rag.settings import Settings
from ui.feedback import FeedbackEntry, FeedbackStore


def entry(**overrides: object) -> FeedbackEntry:
    base: dict[str, object] = dict(
        session_id="s1", turn=0, rating=-1, question="UBND các huyện, thành phố phải làm gì?",
        answer="Chỉ đạo tuyên truyền [1]", abstained=False,
        citations=[{"n": 1, "doc_id": "d", "quote": "Chỉ đạo tuyên truyền", "start": 1, "end": 21}],
        settings={"answer_mode": "extractive", "embedding_model": "bundled:multilingual-e5-small",
                  "fusion": "weighted", "top_k": 5},
        filters={"doc_type": "công văn"})
    base.update(overrides)
    return FeedbackEntry(**base)  # type: ignore[arg-type]


def test_rating_is_stored_durably_with_its_context(tmp_path: Path) -> None:
    path = tmp_path / "data" / "feedback.sqlite"
    store = FeedbackStore(path)
    assert not path.exists()  # nothing is written until someone rates
    store.rate(entry())
    assert store.comment("s1", 0, "  Thiếu ý về báo chí  ")
    store.close()

    rows = FeedbackStore(path).export()  # a new process sees it
    assert len(rows) == 1
    row = rows[0]
    assert row["rating"] == -1 and row["comment"] == "Thiếu ý về báo chí"
    assert row["question"].startswith("UBND") and row["answer"].endswith("[1]") and row["abstained"] is False
    assert row["citations"][0]["quote"] == "Chỉ đạo tuyên truyền"
    assert row["settings"]["fusion"] == "weighted" and row["filters"] == {"doc_type": "công văn"}
    assert row["session_id"] == "s1" and row["created_at"]


def test_one_row_per_answer_changed_or_withdrawn(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite")
    store.rate(entry(rating=-1, comment="sai"))
    store.rate(entry(rating=1))  # the user changed their mind: same row, comment kept
    store.rate(entry(turn=1, rating=1))
    store.rate(entry(session_id="s2", rating=1))
    rows = store.export()
    assert [(r["session_id"], r["turn"], r["rating"], r["comment"]) for r in rows] == [
        ("s1", 0, 1, "sai"), ("s1", 1, 1, ""), ("s2", 0, 1, "")]
    store.withdraw("s1", 1)
    assert len(store.export()) == 2
    assert not store.comment("nobody", 0, "x")
    with pytest.raises(ValueError):
        store.rate(entry(rating=0))


def test_cli_export_json(tmp_path: Path) -> None:
    state = CliContext(settings=Settings(data_dir=tmp_path))
    runner = CliRunner()
    empty = runner.invoke(app, ["feedback", "export", "--json"], obj=state)
    assert empty.exit_code == 0 and json.loads(empty.output) == []
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.rate(entry(comment="Thiếu ý"))
    store.close()
    result = runner.invoke(app, ["feedback", "export", "--json"], obj=state)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["rating"] == -1 and rows[0]["comment"] == "Thiếu ý"
    plain = runner.invoke(app, ["feedback", "export"], obj=state)
    assert "-1" in plain.output and "Thiếu ý" in plain.output

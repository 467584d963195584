"""The audit trail through the real app: what each route records, /v1/audit's roles and filters, answer_id,
the DOCX export, and answers that still arrive when the audit file cannot be written."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.audit.docx import footnote_texts
from rag.audit.log import AuditLog, AuditQuery
from tests.api.test_api import parse_sse
from tests.conftest import CORPUS, make_settings

pytestmark = pytest.mark.slow

KEYS = "r-key-1234:reader,r-key-9999:reader,a-key-5678:admin"
READER = {"Authorization": "Bearer r-key-1234"}
OTHER = {"Authorization": "Bearer r-key-9999"}
ADMIN = {"Authorization": "Bearer a-key-5678"}
QUESTION = "Các cơ quan báo chí Trung ương và địa phương cần làm gì?"


@pytest.fixture(scope="module")
def engine(embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # noqa: ANN001
    from ingest.pipeline import ingest_paths
    from rag.runtime import open_runtime

    eng = open_runtime(make_settings(tmp_path_factory.mktemp("audit-api"), rate_limit_per_minute=100_000),
                       embedder=embedder)
    assert not ingest_paths(eng.store, [CORPUS]).failed
    yield eng
    eng.close()


@pytest.fixture
def make_client(engine: Any, tmp_path: Path) -> Iterator[Any]:
    """Apps over the shared engine, each with its own audit file under tmp_path (or the one given)."""
    opened: list[TestClient] = []

    def factory(audit_file: Path | None = None, **overrides: Any) -> TestClient:
        settings = engine.settings.model_copy(update={
            "api_keys": KEYS, "audit_file": audit_file or tmp_path / f"audit-{len(opened)}.sqlite", **overrides})
        client = TestClient(create_app(settings, engine), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield factory
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Any) -> TestClient:
    return make_client()


def audit_of(client: TestClient) -> AuditLog:
    return client.app.state.audit  # type: ignore[attr-defined,no-any-return]


def test_ask_records_the_answer_and_returns_its_id(client: TestClient, engine: Any) -> None:
    r = client.post("/v1/ask", json={"question": QUESTION}, headers=READER)
    assert r.status_code == 200, r.text
    body = r.json()
    record = audit_of(client).get(body["answer_id"])
    assert record is not None
    assert record.route == "ask" and record.role == "reader"
    assert record.key_id.startswith("key:") and "r-key-1234" not in record.key_id
    assert record.client and record.latency_ms > 0 and record.time.endswith("+00:00")
    assert record.question == QUESTION and record.answer == body["answer"] and record.abstained is False
    assert record.removed_sentences == body["removed_sentences"]
    docs = engine.store.snapshot.docs
    assert [c.chunk_id for c in record.citations] == [c["chunk_id"] for c in body["citations"]]
    for c in record.citations:
        assert c.content_hash == docs[c.doc_id].sha256
        assert c.status == next(x["status"] for x in body["citations"] if x["chunk_id"] == c.chunk_id)
    assert audit_of(client).verify().ok


def test_streamed_ask_carries_answer_id_in_done(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": QUESTION, "stream": True}, headers=READER)
    assert r.status_code == 200
    done = [d for e, d in parse_sse(r.text) if e == "done"][0]
    record = audit_of(client).get(done["answer_id"])
    assert record is not None and record.route == "ask_stream" and record.answer == done["answer"]


def test_search_chat_upload_and_delete_are_recorded(client: TestClient) -> None:
    assert client.get("/v1/search", params={"q": "báo chí"}, headers=READER).status_code == 200
    chat = {"messages": [{"role": "user", "content": QUESTION}]}
    assert client.post("/v1/chat/completions", json=chat, headers=READER).status_code == 200
    up = client.post("/v1/documents", headers=ADMIN,
                     files=[("files", ("thong-bao.txt", "Thông báo về lịch họp giao ban.".encode(), "text/plain"))])
    assert up.status_code == 200, up.text
    doc_id = up.json()["ingested"][0]
    assert client.delete(f"/v1/documents/{doc_id}", headers=ADMIN).status_code == 200
    routes = [r.route for r in audit_of(client).query(AuditQuery())]
    assert routes == ["search", "chat", "upload", "delete"]
    records = audit_of(client).query(AuditQuery())
    assert records[0].question == "báo chí" and records[0].citations and records[0].citations[0].content_hash
    assert records[2].detail["ingested"] == [doc_id] and records[2].role == "admin"
    assert records[3].detail["doc_id"] == doc_id
    assert audit_of(client).verify().count == 4


def test_audit_route_is_admin_only(client: TestClient) -> None:
    assert client.get("/v1/audit").status_code == 401
    assert client.get("/v1/audit", headers=READER).status_code == 403
    assert client.get("/v1/audit", headers=ADMIN).status_code == 200


def test_audit_route_filters(client: TestClient) -> None:
    client.get("/v1/search", params={"q": "báo chí"}, headers=READER)
    asked = client.post("/v1/ask", json={"question": QUESTION}, headers=OTHER).json()
    client.get("/v1/search", params={"q": "tuyên truyền"}, headers=OTHER)
    every = client.get("/v1/audit", headers=ADMIN).json()
    assert every["count"] == 3 and [r["route"] for r in every["records"]] == ["search", "ask", "search"]
    other_key = every["records"][1]["key_id"]
    by_key = client.get("/v1/audit", params={"key_id": other_key}, headers=ADMIN).json()
    assert [r["route"] for r in by_key["records"]] == ["ask", "search"]
    asks = client.get("/v1/audit", params={"route": "ask"}, headers=ADMIN).json()["records"]
    assert [r["id"] for r in asks] == [asked["answer_id"]]
    middle = every["records"][1]["time"]
    window = client.get("/v1/audit", params={"since": middle, "until": middle}, headers=ADMIN).json()
    assert [r["id"] for r in window["records"]] == [asked["answer_id"]]
    later = client.get("/v1/audit", params={"since": "2999-01-01T00:00:00"}, headers=ADMIN).json()
    assert later["count"] == 0
    assert client.get("/v1/audit", params={"limit": 2}, headers=ADMIN).json()["count"] == 2


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"since": "not a date"}, {"until": "0.5"},
                                    {"since": "2026-13-40"}, {"route": "nope"}])
def test_audit_route_bad_filters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    r = client.get("/v1/audit", params=params, headers=ADMIN)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_ask_still_answers_when_the_audit_file_cannot_be_written(
    make_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "blocked.sqlite"
    blocked.mkdir()  # a directory where the audit file should be
    client = make_client(audit_file=blocked)
    with caplog.at_level(logging.ERROR, logger="api.audit"):
        r = client.post("/v1/ask", json={"question": QUESTION}, headers=READER)
        s = client.post("/v1/ask", json={"question": QUESTION, "stream": True}, headers=READER)
    assert r.status_code == 200 and r.json()["answer"] and r.json()["answer_id"]
    assert s.status_code == 200 and [e for e, _ in parse_sse(s.text)][-1] == "done"
    errors = [rec for rec in caplog.records if rec.name == "api.audit" and rec.levelno == logging.ERROR]
    assert len(errors) == 2 and "could not write audit record" in errors[0].getMessage()
    # only the audit route reports the broken audit store
    assert client.get("/v1/audit", headers=ADMIN).status_code == 503
    assert client.get(f"/v1/answers/{r.json()['answer_id']}/export", headers=READER).status_code == 503


def test_export_docx_has_the_question_and_each_quote_as_footnotes(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": QUESTION}, headers=READER).json()
    assert body["citations"]
    r = client.get(f"/v1/answers/{body['answer_id']}/export", params={"format": "docx"}, headers=READER)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    document = docx.Document(io.BytesIO(r.content))
    body_text = "\n".join(p.text for p in document.paragraphs)
    nfc = lambda s: unicodedata.normalize("NFC", s)  # noqa: E731
    assert nfc(QUESTION) in body_text
    notes = footnote_texts(r.content)
    assert len(notes) == len(body["citations"])
    for note, c in zip(notes, body["citations"], strict=True):
        assert nfc(c["quote"]) in note
        assert c["breadcrumb"] in note and c["title"] in note
        assert "khi trả lời" in note and "khi xuất" in note
    refs = document.element.body.findall(".//" + docx.oxml.ns.qn("w:footnoteReference"))
    assert len(refs) == len(body["citations"])  # each citation is referenced from the answer once
    record = audit_of(client).get(body["answer_id"])
    assert record is not None and record.corpus_version in body_text


def test_export_of_another_keys_answer_or_an_unknown_id_is_404(client: TestClient) -> None:
    answer_id = client.post("/v1/ask", json={"question": QUESTION}, headers=READER).json()["answer_id"]
    assert client.get(f"/v1/answers/{answer_id}/export", headers=OTHER).status_code == 404
    assert client.get(f"/v1/answers/{'0' * 32}/export", headers=READER).status_code == 404
    assert client.get(f"/v1/answers/{answer_id}/export", params={"format": "odt"}, headers=READER).status_code == 422
    assert client.get(f"/v1/answers/{answer_id}/export").status_code == 401


def test_export_of_a_search_record_is_404(client: TestClient) -> None:
    client.get("/v1/search", params={"q": "báo chí"}, headers=READER)
    search_id = audit_of(client).query(AuditQuery())[0].id
    assert client.get(f"/v1/answers/{search_id}/export", headers=READER).status_code == 404


def test_direct_tampering_is_seen_through_the_app_file(client: TestClient) -> None:
    client.post("/v1/ask", json={"question": QUESTION}, headers=READER)
    record = audit_of(client).query(AuditQuery())[0]
    with sqlite3.connect(audit_of(client).path) as db:
        db.execute("UPDATE audit SET answer = 'khác' WHERE id = ?", (record.id,))
    assert audit_of(client).verify().broken_id == record.id


@pytest.mark.parametrize("stream", [False, True])
def test_chat_completion_answers_carry_an_exportable_answer_id(client: TestClient, stream: bool) -> None:
    r = client.post("/v1/chat/completions", headers=READER,
                    json={"model": "policyqa", "stream": stream, "messages": [{"role": "user", "content": QUESTION}]})
    assert r.status_code == 200
    if stream:
        chunks = [json.loads(line[5:]) for line in r.text.splitlines()
                  if line.startswith("data:") and line[5:].strip() != "[DONE]"]
        answer_id = chunks[-1]["answer_id"]
    else:
        answer_id = r.json()["answer_id"]
    assert audit_of(client).get(answer_id).route == ("chat_stream" if stream else "chat")  # type: ignore[union-attr]
    exported = client.get(f"/v1/answers/{answer_id}/export", headers=READER)
    assert exported.status_code == 200 and footnote_texts(exported.content)
    assert client.get(f"/v1/answers/{answer_id}/export", headers=OTHER).status_code == 404


def test_export_pdf_holds_the_question_answer_and_every_quote_in_vietnamese(client: TestClient) -> None:
    from ingest.load import load_bytes

    body = client.post("/v1/ask", json={"question": QUESTION}, headers=READER).json()
    r = client.get(f"/v1/answers/{body['answer_id']}/export", params={"format": "pdf"}, headers=READER)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = " ".join(load_bytes(r.content, "answer.pdf").text.split())  # read back by our own PDF loader
    nfc = lambda s: " ".join(unicodedata.normalize("NFC", s).split())  # noqa: E731
    assert nfc(QUESTION) in text and "Chú thích" in text
    for c in body["citations"]:
        assert nfc(c["quote"]) in text, c["quote"]
        assert nfc(c["breadcrumb"]) in text

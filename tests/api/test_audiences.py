"""Audiences over HTTP, on both store backends: no response, streamed or not, ever carries a chunk id, quote,
title or id of a document outside the key's audience, and the top-k is still full from allowed documents.

The store holds real legal text: the dispatch (public), Chương I of Luật 36/2024/QH15 for group `so-tttt`,
Chương I of Luật 35/2024/QH15 for `ubnd-huyen`, the first articles of Nghị định 168/2024/NĐ-CP for both, and
an excerpt whose front matter audience is malformed (admins only)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from api.app import create_app
from tests.conftest import CORPUS, FULL_CORPUS, make_settings

pytestmark = pytest.mark.slow

KEYS = ("k-admin:admin,k-a:reader:so-tttt,k-b:reader:ubnd-huyen,k-ab:reader:so-tttt|ubnd-huyen,"
        "k-pub:reader,k-other:reader:phong-khac")
# key -> the documents it may read (besides the public dispatch)
READS = {"k-admin": {"mat-nhom-a", "mat-nhom-b", "mat-chung-ab", "mat-hong"},
         "k-a": {"mat-nhom-a", "mat-chung-ab"}, "k-b": {"mat-nhom-b", "mat-chung-ab"},
         "k-ab": {"mat-nhom-a", "mat-nhom-b", "mat-chung-ab"}, "k-pub": set(), "k-other": set()}
RESTRICTED = {"mat-nhom-a", "mat-nhom-b", "mat-chung-ab", "mat-hong"}
TITLES = {"mat-nhom-a": "Tài liệu mật nhóm A", "mat-nhom-b": "Tài liệu mật nhóm B",
          "mat-chung-ab": "Tài liệu mật chung AB", "mat-hong": "Tài liệu hỏng nhãn"}
QUESTIONS = [
    "Luật Trật tự, an toàn giao thông đường bộ điều chỉnh những gì?",  # group A's text
    "Cơ sở dữ liệu đường bộ gồm những gì?",  # group B's
    "Người điều khiển xe ô tô không chấp hành hiệu lệnh đèn tín hiệu bị phạt bao nhiêu?",  # A and B's decree
    "Các hành vi bị nghiêm cấm trong hoạt động đường bộ",  # B's
    "Sở Thông tin và Truyền thông đề nghị các cơ quan làm gì?",  # the public dispatch
    "Giáo dục kiến thức pháp luật về trật tự an toàn giao thông",  # A's, and the malformed one's
    "Điều 7 Luật 35/2024/QH15 quy định gì?",  # names B's text
    "Điều 2 Luật 36/2024/QH15",
    "Nghị định 168/2024/NĐ-CP có hiệu lực khi nào?",
]


def _excerpt(path: Path, start: str, end: str) -> str:
    text = path.read_text(encoding="utf-8")
    head = text[: text.index("Chương I\n")]
    return head + text[text.index(start): text.index(end)]


def _front(title: str, audience: str, body: str) -> str:
    return f"---\ntitle: {title}\naudience: \"{audience}\"\n---\n{body}"


@pytest.fixture(scope="module", params=["embedded", "server"])
def store(request: pytest.FixtureRequest, embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from ingest.pipeline import ingest_paths
    from rag.runtime import open_runtime
    from tests.conftest import server_overrides

    root = tmp_path_factory.mktemp(f"aud-{request.param}")
    folder = root / "docs"
    folder.mkdir()
    law36, law35 = FULL_CORPUS / "luat-36-2024-QH15.txt", FULL_CORPUS / "luat-35-2024-QH15.txt"
    decree = FULL_CORPUS / "nghi-dinh-168-2024-ND-CP.txt"
    files = {
        "mat-nhom-a.md": _front(TITLES["mat-nhom-a"], "so-tttt", _excerpt(law36, "Chương I\n", "Chương II\n")),
        "mat-nhom-b.md": _front(TITLES["mat-nhom-b"], "ubnd-huyen", _excerpt(law35, "Chương I\n", "Chương II\n")),
        "mat-chung-ab.md": _front(TITLES["mat-chung-ab"], "ubnd-huyen|so-tttt",
                                  _excerpt(decree, "Chương I\n", "Điều 7. ")),
        "mat-hong.md": _front(TITLES["mat-hong"], "Sở TT&TT", _excerpt(law36, "Điều 6. ", "Điều 9. ")),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    overrides = {} if request.param == "embedded" else server_overrides(request.getfixturevalue("chroma_server"))
    engine = open_runtime(make_settings(root / "data", **overrides), embedder=embedder)
    report = ingest_paths(engine.store, [CORPUS, folder])
    assert not report.failed and len(engine.store.snapshot.docs) == 5
    assert any("only admins" in w for w in report.warnings)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def client(store: Any) -> Iterator[TestClient]:
    app_settings = store.settings.model_copy(update={"api_keys": KEYS, "rate_limit_per_minute": 1_000_000})
    with TestClient(create_app(app_settings, store), raise_server_exceptions=False) as c:
        yield c


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _forbidden(store: Any, key: str) -> tuple[set[str], set[str]]:
    """(doc ids, chunk ids) the key must never see."""
    docs = RESTRICTED - READS[key]
    snap = store.store.snapshot
    return docs, {cid for d in docs for cid in snap.by_doc[d]}


def _passages(payload: Any) -> Iterator[dict[str, Any]]:
    """Every citation, hit and related passage in a JSON payload, however nested."""
    if isinstance(payload, dict):
        if "chunk_id" in payload or ("doc_id" in payload and "quote" in payload):
            yield payload
        for v in payload.values():
            yield from _passages(v)
    elif isinstance(payload, list):
        for v in payload:
            yield from _passages(v)


def _payloads(body: str, content_type: str) -> list[Any]:
    if "text/event-stream" in content_type:
        return [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")
                and line[5:].strip() not in ("", "[DONE]")]
    return [json.loads(body)] if body else []


def assert_nothing_outside(store: Any, key: str, body: str, content_type: str, asked: str | None = None) -> int:
    """No forbidden id or title anywhere in the body (but the id the request itself named, echoed in a 404);
    every passage from an allowed document, quoting it."""
    docs, chunks = _forbidden(store, key)
    for d in docs:
        assert d == asked or d not in body, f"{key} saw document {d}"
        assert TITLES[d] not in body, f"{key} saw the title of {d}"
    for cid in chunks:
        assert cid not in body, f"{key} saw chunk {cid}"
    snap = store.store.snapshot
    seen = 0
    for payload in _payloads(body, content_type):
        for p in _passages(payload):
            doc_id = p.get("doc_id") or snap.chunks[p["chunk_id"]].doc_id
            assert doc_id not in docs
            quote = p.get("quote") or ""
            assert quote in snap.docs[doc_id].text
            seen += 1
    return seen


def _call(client: TestClient, key: str, route: str, question: str, doc_id: str | None, k: int) -> Any:
    h = _auth(key)
    filters = {"doc_id": doc_id} if doc_id else None
    if route == "search":
        return client.get("/v1/search", params={"q": question, "k": k}, headers=h)
    if route == "ask":
        return client.post("/v1/ask", json={"question": question, "filters": filters, "top_k": k}, headers=h)
    if route == "ask_stream":
        return client.post("/v1/ask", json={"question": question, "filters": filters, "stream": True}, headers=h)
    if route in ("chat", "chat_stream"):
        return client.post("/v1/chat/completions", headers=h, json={
            "model": "policyqa", "stream": route == "chat_stream", "messages": [{"role": "user", "content": question}]})
    if route == "documents":
        return client.get("/v1/documents", headers=h)
    return client.get(f"/v1/documents/{doc_id or 'mat-nhom-a'}", headers=h)


ALL_IDS = [None, "dispatch-stttt-ttbcxb", *sorted(RESTRICTED)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(READS)),
       route=st.sampled_from(["search", "ask", "ask_stream", "chat", "chat_stream", "documents", "document"]),
       question=st.one_of(st.sampled_from(QUESTIONS),
                          st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1,
                                  max_size=60).filter(str.strip)),
       doc_id=st.sampled_from(ALL_IDS), k=st.integers(1, 10))
def test_no_response_leaks_a_document_outside_the_audience(client: TestClient, store: Any, key: str, route: str,
                                                           question: str, doc_id: str | None, k: int) -> None:
    r = _call(client, key, route, question, doc_id, k)
    note(f"{key} {route} {question!r} {doc_id} -> {r.status_code}")
    asked = None
    if route == "document" and (doc_id or "mat-nhom-a") in RESTRICTED - READS[key]:
        assert r.status_code == 404  # as if it did not exist
        asked = doc_id or "mat-nhom-a"
    else:
        assert r.status_code == 200, r.text[:500]
    assert_nothing_outside(store, key, r.text, r.headers.get("content-type", ""), asked)


@pytest.mark.parametrize("key", sorted(READS))
def test_top_k_is_filled_from_allowed_documents(client: TestClient, store: Any, key: str) -> None:
    snap = store.store.snapshot
    allowed = {"dispatch-stttt-ttbcxb", *READS[key]} & set(snap.docs)
    allowed_chunks = sum(len(snap.by_doc[d]) for d in allowed)
    for question in QUESTIONS[:4]:
        r = client.get("/v1/search", params={"q": question, "k": 10}, headers=_auth(key))
        hits = r.json()["hits"]
        assert len(hits) == min(10, allowed_chunks), (key, question)
        assert {h["doc_id"] for h in hits} <= allowed


def test_each_group_gets_its_own_answer(client: TestClient) -> None:
    q = "Cơ sở dữ liệu đường bộ gồm những gì?"
    b = client.post("/v1/ask", json={"question": q}, headers=_auth("k-b")).json()
    assert not b["abstained"] and {c["doc_id"] for c in b["citations"]} == {"mat-nhom-b"}
    a = client.post("/v1/ask", json={"question": q}, headers=_auth("k-a")).json()
    assert "mat-nhom-b" not in json.dumps(a)
    named = client.post("/v1/ask", json={"question": "Điều 6 Luật 35/2024/QH15 quy định gì?"},
                        headers=_auth("k-pub")).json()
    assert "mat-nhom-b" not in json.dumps(named) and not named["citations"]


def test_document_list_and_detail_follow_the_audience(client: TestClient) -> None:
    def listed(key: str) -> set[str]:
        return {d["id"] for d in client.get("/v1/documents", headers=_auth(key)).json()["documents"]}

    assert listed("k-admin") == {"dispatch-stttt-ttbcxb", *RESTRICTED}
    assert listed("k-a") == {"dispatch-stttt-ttbcxb", "mat-nhom-a", "mat-chung-ab"}
    assert listed("k-other") == listed("k-pub") == {"dispatch-stttt-ttbcxb"}
    assert client.get("/v1/documents/mat-hong", headers=_auth("k-ab")).status_code == 404
    detail = client.get("/v1/documents/mat-hong", headers=_auth("k-admin")).json()
    assert detail["document"]["audience"] == "sở tt&tt"  # stored as written: admins only


def test_admin_changes_an_audience_and_readers_see_it_at_once(client: TestClient) -> None:
    path = "/v1/documents/mat-nhom-a/audience"
    assert client.put(path, json={"audience": "public"}, headers=_auth("k-a")).status_code == 403
    bad = client.put(path, json={"audience": "Sở TT"}, headers=_auth("k-admin"))
    assert bad.status_code == 422 and "group" in bad.json()["detail"]
    assert client.put("/v1/documents/nope/audience", json={"audience": "public"},
                      headers=_auth("k-admin")).status_code == 404
    try:
        r = client.put(path, json={"audience": "phong-khac|so-tttt"}, headers=_auth("k-admin"))
        assert r.status_code == 200 and r.json() == {"id": "mat-nhom-a", "audience": "phong-khac|so-tttt",
                                                     "previous": "so-tttt"}
        assert client.get("/v1/documents/mat-nhom-a", headers=_auth("k-other")).status_code == 200
        audit = client.get("/v1/audit", params={"route": "audience"}, headers=_auth("k-admin")).json()
        assert "phong-khac|so-tttt" in [rec["detail"]["audience"] for rec in audit["records"]]
    finally:
        client.put(path, json={"audience": "so-tttt"}, headers=_auth("k-admin"))
    assert client.get("/v1/documents/mat-nhom-a", headers=_auth("k-other")).status_code == 404


def test_upload_carries_an_audience_field(client: TestClient, store: Any) -> None:
    text = (FULL_CORPUS / "luat-36-2024-QH15.txt").read_text(encoding="utf-8")
    body = "---\ntitle: Tài liệu tải lên nhóm B\n---\n" + text[text.index("Điều 10. "): text.index("Điều 12. ")]
    files = {"files": ("tai-len-b.md", body.encode(), "text/markdown")}
    bad = client.post("/v1/documents", files=files, data={"audience": "B nhóm"}, headers=_auth("k-admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "audience"]
    r = client.post("/v1/documents", files=files, data={"audience": "ubnd-huyen"}, headers=_auth("k-admin"))
    assert r.status_code == 200, r.text
    try:
        assert client.get("/v1/documents/tai-len-b", headers=_auth("k-b")).status_code == 200
        assert client.get("/v1/documents/tai-len-b", headers=_auth("k-a")).status_code == 404
        hits = client.get("/v1/search", params={"q": "tài liệu tải lên nhóm B", "k": 10},
                          headers=_auth("k-a")).json()["hits"]
        assert all(h["doc_id"] != "tai-len-b" for h in hits)
    finally:
        assert client.delete("/v1/documents/tai-len-b", headers=_auth("k-admin")).status_code == 200


def test_audit_records_the_reader_groups(client: TestClient) -> None:
    client.get("/v1/search", params={"q": "đường bộ"}, headers=_auth("k-ab"))
    from api.security import fingerprint

    records = client.get("/v1/audit", params={"route": "search", "key_id": fingerprint("k-ab")},
                         headers=_auth("k-admin")).json()["records"]
    assert records and all(r["groups"] == ["so-tttt", "ubnd-huyen"] and r["role"] == "reader" for r in records)


def test_export_refuses_once_a_cited_document_left_the_audience(client: TestClient) -> None:
    q = "Cơ sở dữ liệu đường bộ gồm những gì?"
    ans = client.post("/v1/ask", json={"question": q}, headers=_auth("k-b")).json()
    assert not ans["abstained"]
    url = f"/v1/answers/{ans['answer_id']}/export"
    assert client.get(url, headers=_auth("k-b")).status_code == 200
    try:
        client.put("/v1/documents/mat-nhom-b/audience", json={"audience": "so-tttt"}, headers=_auth("k-admin"))
        r = client.get(url, headers=_auth("k-b"))
        assert r.status_code == 403 and "audience" in r.json()["detail"]
    finally:
        client.put("/v1/documents/mat-nhom-b/audience", json={"audience": "ubnd-huyen"}, headers=_auth("k-admin"))


def test_stored_document_without_an_audience_is_for_admins_only(store: Any) -> None:
    from dataclasses import replace

    from rag.access import Access
    from rag.store.scope import scoped

    snap = store.store.snapshot
    doc = snap.docs["mat-nhom-a"]
    old = replace(snap, docs={**snap.docs, "mat-nhom-a": replace(doc, meta=replace(doc.meta, audience=None))},
                  derived={})
    view = scoped(old, Access(groups=frozenset({"so-tttt"})))
    assert "mat-nhom-a" not in view.docs and view.scope is not None and "mat-chung-ab" in view.scope
    assert not re.search("mat-nhom-a", " ".join(c.doc_id for c in view.chunks.values()))

"""The REST API through TestClient on the real app, a real temporary store and the real embedder."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.conftest import CORPUS, make_settings
from tests.documents import make_docx, make_pdf

pytestmark = pytest.mark.slow

QUESTION = "Các cơ quan báo chí Trung ương và địa phương cần làm gì?"


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of an SSE body."""
    events = []
    for frame in text.split("\n\n"):
        if not frame.strip():
            continue
        event, data = "message", []
        for line in frame.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        raw = "\n".join(data)
        events.append((event, raw if raw == "[DONE]" else json.loads(raw)))
    return events


@pytest.fixture(scope="module")
def engine(embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # noqa: ANN001
    from ingest.pipeline import ingest_paths
    from rag.runtime import open_runtime

    eng = open_runtime(make_settings(tmp_path_factory.mktemp("api"), rate_limit_per_minute=100_000), embedder=embedder)
    report = ingest_paths(eng.store, [CORPUS])
    assert report.documents >= 1 and not report.failed, report
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def client(engine: Any) -> Iterator[TestClient]:
    with TestClient(create_app(engine.settings, engine)) as c:
        yield c


@pytest.fixture(scope="module")
def doc_id(client: TestClient) -> str:
    docs = client.get("/v1/documents").json()["documents"]
    return next(d["id"] for d in docs if d["number"] == "/STTTT-TTBCXB")


# ---- ask --------------------------------------------------------------------------------------


def test_ask_returns_answer_with_verified_citations(client: TestClient, doc_id: str) -> None:
    r = client.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["abstained"] is False
    assert "[1]" in body["answer"]
    text = client.get(f"/v1/documents/{doc_id}").json()["text"]
    for c in body["citations"]:
        assert c["doc_id"] == doc_id
        assert text[c["start"] : c["end"]] == c["quote"]  # offsets point into the stored normalised text
    assert body["timings"]["total_ms"] > 0


def test_ask_abstains_with_related_passages(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": "Giá vé máy bay Hà Nội đi Đà Nẵng là bao nhiêu?"})
    assert r.status_code == 200
    body = r.json()
    assert body["abstained"] is True and body["citations"] == []
    assert isinstance(body["related"], list)


def test_ask_with_history_and_filters(client: TestClient) -> None:
    r = client.post(
        "/v1/ask",
        json={
            "question": "Còn UBND các huyện, thành phố thì sao?",
            "history": [
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": "Đẩy mạnh phổ biến, tuyên truyền [1]."},
            ],
            "filters": {"doc_type": "công văn", "number": "/STTTT-TTBCXB"},
            "top_k": 3,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["standalone_question"]


def test_ask_filter_that_matches_nothing_abstains(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": QUESTION, "filters": {"doc_type": "luật"}})
    assert r.status_code == 200
    assert r.json()["abstained"] is True


@pytest.mark.parametrize("how", ["accept", "flag"])
def test_ask_streams_typed_events(client: TestClient, how: str) -> None:
    if how == "accept":
        r = client.post("/v1/ask", json={"question": QUESTION}, headers={"Accept": "text/event-stream"})
    else:
        r = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    kinds = [e for e, _ in events]
    assert kinds[0] == "status" and kinds[-1] == "done"
    assert "token" in kinds and "citations" in kinds
    done = events[-1][1]
    streamed = "".join(d["text"] for e, d in events if e == "token")
    assert streamed == done["answer"]  # the tokens reassemble the answer exactly
    citations = next(d for e, d in events if e == "citations")["citations"]
    assert [c["n"] for c in citations] == [c["n"] for c in done["citations"]]


# ---- search and documents ---------------------------------------------------------------------


def test_search(client: TestClient, doc_id: str) -> None:
    r = client.get("/v1/search", params={"q": "thông tin đối ngoại", "k": 3, "type": "công văn"})
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert 1 <= len(hits) <= 3
    assert all(h["doc_id"] == doc_id and h["breadcrumb"] for h in hits)
    assert client.get("/v1/search", params={"q": "thông tin", "number": "99/2099/QH99"}).json()["hits"] == []


def test_document_list_and_detail(client: TestClient, doc_id: str) -> None:
    listing = client.get("/v1/documents").json()
    assert listing["total"] == len(listing["documents"]) >= 1
    summary = next(d for d in listing["documents"] if d["id"] == doc_id)
    assert summary["doc_type"] == "công văn" and summary["issuer"]
    assert "/" not in summary["source"]  # server paths are not exposed
    detail = client.get(f"/v1/documents/{doc_id}").json()
    assert detail["document"]["id"] == doc_id
    assert len(detail["chunks"]) == summary["chunks"]
    for c in detail["chunks"]:
        assert detail["text"][c["start"] : c["end"]] == c["text"]
        assert c["breadcrumb"]


def test_unknown_document_is_404_problem(client: TestClient) -> None:
    r = client.get("/v1/documents/khong-co")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404 and "khong-co" in body["detail"] and body["instance"] == "/v1/documents/khong-co"
    assert client.delete("/v1/documents/khong-co").status_code == 404


def test_upload_search_delete_roundtrip(client: TestClient) -> None:
    files = [("files", ("cong-van-thu.docx", make_docx(), "application/octet-stream"))]
    r = client.post("/v1/documents", files=files)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["files"] == [
        {"filename": "cong-van-thu.docx", "detected_format": "docx", "bytes": len(files[0][1][1])}
    ]
    (new_id,) = report["ingested"]
    hits = client.get("/v1/search", params={"q": "chấp hành giờ làm việc hành chính", "k": 3}).json()["hits"]
    assert hits[0]["doc_id"] == new_id
    again = client.post("/v1/documents", files=files).json()
    assert again["unchanged"] == 1 and again["ingested"] == []
    r = client.delete(f"/v1/documents/{new_id}")
    assert r.status_code == 200 and r.json()["removed_chunks"] > 0
    assert client.get(f"/v1/documents/{new_id}").status_code == 404
    hits = client.get("/v1/search", params={"q": "chấp hành giờ làm việc hành chính", "k": 5}).json()["hits"]
    assert all(h["doc_id"] != new_id for h in hits)


def test_pdf_named_txt_is_ingested_as_pdf(client: TestClient) -> None:
    # Decision: the bytes decide the type; the name is a label. The response says what was detected.
    r = client.post("/v1/documents", files=[("files", ("ghi-chu.txt", make_pdf(), "text/plain"))])
    assert r.status_code == 200, r.text
    assert r.json()["files"][0]["detected_format"] == "pdf"
    (new_id,) = r.json()["ingested"]
    assert client.get(f"/v1/documents/{new_id}").json()["document"]["format"] == "pdf"
    assert client.delete(f"/v1/documents/{new_id}").status_code == 200


# ---- OpenAI-compatible --------------------------------------------------------------------------


def test_chat_completions(client: TestClient) -> None:
    r = client.post(
        "/v1/chat/completions",
        json={
            "model": "policyqa",
            "messages": [
                {"role": "system", "content": "Trả lời ngắn gọn."},
                {"role": "user", "content": QUESTION},
            ],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    msg = body["choices"][0]["message"]
    assert msg["role"] == "assistant" and "[1]" in msg["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["citations"] and body["usage"]["total_tokens"] > 0


def test_chat_completions_stream(client: TestClient) -> None:
    r = client.post(
        "/v1/chat/completions",
        json={
            "stream": True,
            "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        },
    )
    assert r.status_code == 200
    events = parse_sse(r.text)
    assert events[-1][1] == "[DONE]"
    chunks = [d for _, d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "[1]" in text


def test_chat_completions_needs_a_user_message(client: TestClient) -> None:
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]})
    assert r.status_code == 422 and "user" in r.json()["detail"]


def test_models_list(client: TestClient) -> None:
    assert client.get("/v1/models").json()["data"][0]["id"] == "policyqa"


# ---- health, metrics, OpenAPI -------------------------------------------------------------------


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True and ready["documents"] >= 1 and ready["vectors"] == ready["chunks"]


def test_metrics_count_requests_answers_and_ingests(client: TestClient) -> None:
    client.post("/v1/ask", json={"question": QUESTION})
    client.get("/v1/documents/khong-co")
    text = client.get("/metrics").text
    assert 'policyqa_http_requests_total{method="POST",route="/v1/ask",status="200"}' in text
    assert 'route="/v1/documents/{doc_id}",status="404"' in text
    assert "policyqa_http_request_duration_seconds_bucket" in text
    assert 'policyqa_answers_total{endpoint="ask",outcome="answered"}' in text
    assert "policyqa_ingest_requests_total" in text


def test_openapi_documents_every_endpoint_with_vietnamese_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/v1/ask", "post"),
        ("/v1/chat/completions", "post"),
        ("/v1/search", "get"),
        ("/v1/documents", "get"),
        ("/v1/documents", "post"),
        ("/v1/documents/{doc_id}", "get"),
        ("/v1/documents/{doc_id}", "delete"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ]:
        assert method in paths[path], (path, method)
    assert "text/event-stream" in paths["/v1/ask"]["post"]["responses"]["200"]["content"]
    ask_examples = spec["components"]["schemas"]["AskRequest"]["examples"]
    assert any("báo chí" in e["question"] for e in ask_examples)
    assert paths["/v1/ask"]["post"]["responses"]["422"]["content"].keys() == {"application/problem+json"}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn." not in docs.text  # Swagger UI served locally (offline)
    assert "/" not in paths  # "/" is left to the UI, which redirects it


# ---- concurrency --------------------------------------------------------------------------------


def _dispatch(version: str) -> bytes:
    lines = [
        "UBND TỈNH THỬ NGHIỆM",
        "SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG",
        "Số: 77/STNMT-MT",
        "V/v bảo vệ nguồn nước sinh hoạt",
        f"1. Các xã kiểm tra giếng khoan và báo cáo số liệu quan trắc phiên bản {version}.",
        f"2. Hạn nộp báo cáo quan trắc nguồn nước là ngày {version} tháng 9 năm 2024.",
        "GIÁM ĐỐC",
        "Trần Thị Bích",
    ]
    return "\n\n".join(lines).encode()


def test_concurrent_asks_during_upload_see_old_or_new_version(client: TestClient) -> None:
    name = "nguon-nuoc.txt"
    r = client.post("/v1/documents", files=[("files", (name, _dispatch("10"), "text/plain"))])
    (doc,) = r.json()["ingested"]
    old = {c["id"] for c in client.get(f"/v1/documents/{doc}").json()["chunks"]}
    errors: list[str] = []
    cited: list[set[str]] = []
    stop = threading.Event()

    def asker() -> None:
        while not stop.is_set():
            resp = client.post("/v1/ask", json={"question": "Hạn nộp báo cáo quan trắc nguồn nước là ngày nào?"})
            if resp.status_code != 200:
                errors.append(resp.text)
                continue
            cited.append({c["chunk_id"] for c in resp.json()["citations"] if c["doc_id"] == doc})

    threads = [threading.Thread(target=asker) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        r = client.post("/v1/documents", files=[("files", (name, _dispatch("20"), "text/plain"))])
        assert r.status_code == 200 and r.json()["updated"] == 1
        for _ in range(3):  # keep asking a little after the swap
            client.get("/readyz")
    finally:
        stop.set()
        for t in threads:
            t.join()
    new = {c["id"] for c in client.get(f"/v1/documents/{doc}").json()["chunks"]}
    assert not errors, errors[:3]
    assert cited
    for ids in cited:
        assert ids <= old or ids <= new, "an answer mixed chunks of two versions"
    assert client.delete(f"/v1/documents/{doc}").status_code == 200


def test_upload_of_several_files(client: TestClient, tmp_path: Path) -> None:
    files = [
        ("files", ("a.md", "# Ghi chú A\n\nNội dung thử nghiệm về cấp nước sạch.".encode(), "text/markdown")),
        (
            "files",
            (
                "b.html",
                b"<!DOCTYPE html><html><body><p>Thong bao ve lich tiep dan.</p></body></html>",
                "text/html",
            ),
        ),
    ]
    r = client.post("/v1/documents", files=files)
    assert r.status_code == 200, r.text
    assert [f["detected_format"] for f in r.json()["files"]] == ["md", "html"]
    for doc in r.json()["ingested"]:
        assert client.delete(f"/v1/documents/{doc}").status_code == 200

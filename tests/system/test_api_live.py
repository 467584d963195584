"""`policyqa serve` as a real process on a free loopback port, spoken to over HTTP and by openai."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS, REPO
from tests.documents import make_docx
from tests.servers import free_port, running

pytestmark = pytest.mark.slow

READER, ADMIN = "live-reader-key", "live-admin-key"
QUESTION = "Các cơ quan báo chí Trung ương và địa phương cần làm gì?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("live")
    port = free_port()
    env = {
        **os.environ,
        "POLICYQA_DATA_DIR": str(data / "data"),
        "POLICYQA_API_KEYS": f"{READER}:reader,{ADMIN}:admin",
        "POLICYQA_RATE_LIMIT_PER_MINUTE": "100000",
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "policyqa", "serve", "--port", str(port), "--log-level", "warning"]
    with running(cmd, ready_url=f"{base}/readyz", log_path=data / "server.log", env=env, cwd=REPO,
                 timeout_s=240):
        yield base


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def seeded(server: str) -> str:
    """Upload the seed dispatch through the API; returns its document id."""
    path = next(CORPUS.glob("dispatch-*.md"))
    r = httpx.post(
        f"{server}/v1/documents",
        headers=auth(ADMIN),
        timeout=120,
        files=[("files", (path.name, path.read_bytes(), "text/markdown"))],
    )
    assert r.status_code == 200, r.text
    (doc,) = r.json()["ingested"]
    return str(doc)


def test_ready_and_auth_over_http(server: str, seeded: str) -> None:
    ready = httpx.get(f"{server}/readyz").json()
    assert ready["documents"] >= 1
    r = httpx.post(f"{server}/v1/ask", json={"question": QUESTION})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_ask_json(server: str, seeded: str) -> None:
    r = httpx.post(f"{server}/v1/ask", json={"question": QUESTION}, headers=auth(READER), timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert not body["abstained"] and body["citations"][0]["doc_id"] == seeded


def test_ask_stream_arrives_as_events(server: str, seeded: str) -> None:
    events: list[tuple[str, dict]] = []
    headers = {**auth(READER), "Accept": "text/event-stream"}
    with httpx.stream("POST", f"{server}/v1/ask", json={"question": QUESTION}, headers=headers, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event or "message", json.loads(line[6:])))
    kinds = [k for k, _ in events]
    assert kinds[0] == "status" and kinds[-1] == "done" and kinds.count("token") > 3
    assert "".join(d["text"] for k, d in events if k == "token") == events[-1][1]["answer"]


def test_openai_client(server: str, seeded: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{server}/v1", api_key=READER, max_retries=0, timeout=60)
    assert [m.id for m in client.models.list()] == ["policyqa"]
    completion = client.chat.completions.create(model="policyqa", messages=[{"role": "user", "content": QUESTION}])
    content = completion.choices[0].message.content or ""
    assert "[1]" in content and completion.choices[0].finish_reason == "stop"
    citations = (completion.model_extra or {})["citations"]
    assert citations[0]["doc_id"] == seeded and citations[0]["quote"]

    stream = client.chat.completions.create(
        model="policyqa",
        stream=True,
        messages=[
            {"role": "user", "content": "Các cơ quan báo chí phải làm gì?"},
            {"role": "assistant", "content": content},
            {"role": "user", "content": "Còn Đài Phát thanh – Truyền hình tỉnh thì sao?"},
        ],
    )
    parts, last = [], None
    for chunk in stream:
        last = chunk
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    assert "".join(parts).strip()
    assert last is not None and last.choices[0].finish_reason == "stop"
    assert "citations" in (last.model_extra or {})

    bad = OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0)
    from openai import AuthenticationError

    with pytest.raises(AuthenticationError):
        bad.chat.completions.create(model="policyqa", messages=[{"role": "user", "content": QUESTION}])


def test_upload_delete_and_metrics(server: str, seeded: str, tmp_path: Path) -> None:
    r = httpx.post(
        f"{server}/v1/documents",
        headers=auth(ADMIN),
        timeout=120,
        files=[("files", ("cong-van-noi-vu.docx", make_docx(), "application/octet-stream"))],
    )
    assert r.status_code == 200, r.text
    (doc,) = r.json()["ingested"]
    assert httpx.delete(f"{server}/v1/documents/{doc}", headers=auth(READER)).status_code == 403
    assert httpx.delete(f"{server}/v1/documents/{doc}", headers=auth(ADMIN)).status_code == 200
    assert httpx.get(f"{server}/v1/documents/{doc}", headers=auth(READER)).status_code == 404
    metrics = httpx.get(f"{server}/metrics", headers=auth(READER)).text
    assert 'policyqa_http_requests_total{method="POST",route="/v1/ask",status="200"}' in metrics
    assert 'route="/v1/chat/completions"' in metrics
    assert 'policyqa_ingest_files_total{result="ingested"} 2.0' in metrics
    assert "policyqa_documents_deleted_total 1.0" in metrics
    assert 'policyqa_answers_total{endpoint="chat",outcome="answered"}' in metrics

"""Auth matrix, loopback rule, rate limits, request and upload limits, problem JSON for every error."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import InsecureBind, RateLimiter, check_bind
from rag.network import is_loopback
from tests.conftest import CORPUS, REPO, make_settings
from tests.documents import make_pdf

pytestmark = pytest.mark.slow

KEYS = "r-key-1234:reader,a-key-5678:admin"
READER = {"Authorization": "Bearer r-key-1234"}
ADMIN = {"Authorization": "Bearer a-key-5678"}
ASK = {"question": "Các cơ quan báo chí cần làm gì?"}
PROBLEM = "application/problem+json"


def assert_problem(r: Any, status: int, *, contains: str = "") -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert contains.lower() in body["detail"].lower(), body["detail"]
    assert "Traceback" not in r.text
    return body


@pytest.fixture(scope="module")
def engine(embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # noqa: ANN001
    from ingest.pipeline import ingest_paths
    from rag.runtime import open_runtime

    eng = open_runtime(make_settings(tmp_path_factory.mktemp("apisec")), embedder=embedder)
    assert not ingest_paths(eng.store, [CORPUS]).failed
    yield eng
    eng.close()


@pytest.fixture
def make_client(engine: Any) -> Iterator[Any]:
    """TestClients on apps built with setting overrides over the shared engine."""
    opened: list[TestClient] = []

    def factory(**overrides: Any) -> TestClient:
        settings = engine.settings.model_copy(update={"rate_limit_per_minute": 100_000, **overrides})
        client = TestClient(create_app(settings, engine), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield factory
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def keyed(make_client: Any) -> TestClient:
    return make_client(api_keys=KEYS)


@pytest.fixture
def open_client(make_client: Any) -> TestClient:
    return make_client(max_upload_bytes=20_000, max_upload_files=2, max_question_chars=200, max_history_turns=2)


# ---- auth matrix --------------------------------------------------------------------------------

READ_ROUTES = [
    ("post", "/v1/ask", {"json": ASK}),
    ("get", "/v1/search", {"params": {"q": "báo chí"}}),
    ("get", "/v1/documents", {}),
    ("get", "/v1/models", {}),
    ("get", "/metrics", {}),
    ("post", "/v1/chat/completions", {"json": {"messages": [{"role": "user", "content": "báo chí?"}]}}),
]
ADMIN_ROUTES = [
    ("post", "/v1/documents", {"files": [("files", ("a.txt", "Thông báo".encode(), "text/plain"))]}),
    ("delete", "/v1/documents/khong-co", {}),
]


@pytest.mark.parametrize(("method", "path", "kw"), READ_ROUTES + ADMIN_ROUTES)
def test_no_key_is_401(keyed: TestClient, method: str, path: str, kw: dict[str, Any]) -> None:
    r = getattr(keyed, method)(path, **kw)
    assert_problem(r, 401, contains="missing API key")
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer wrong-key", "Bearer r-key-123", "Bearer a-key-5678x"])
def test_bad_key_is_401(keyed: TestClient, header: str) -> None:
    assert_problem(keyed.post("/v1/ask", json=ASK, headers={"Authorization": header}), 401, contains="invalid")


@pytest.mark.parametrize("header", ["Basic cjpr", "Bearer", "r-key-1234", "Bearer  "])
def test_malformed_authorization_is_401(keyed: TestClient, header: str) -> None:
    assert_problem(keyed.get("/v1/documents", headers={"Authorization": header}), 401, contains="malformed")


@pytest.mark.parametrize(("method", "path", "kw"), ADMIN_ROUTES)
def test_reader_key_on_admin_route_is_403(keyed: TestClient, method: str, path: str, kw: dict[str, Any]) -> None:
    r = getattr(keyed, method)(path, headers=READER, **kw)
    assert_problem(r, 403, contains="'admin' role")


@pytest.mark.parametrize(("method", "path", "kw"), READ_ROUTES)
def test_reader_and_admin_keys_can_read(keyed: TestClient, method: str, path: str, kw: dict[str, Any]) -> None:
    for headers in (READER, ADMIN):
        r = getattr(keyed, method)(path, headers=headers, **kw)
        assert r.status_code == 200, r.text


def test_admin_key_can_upload_and_delete(keyed: TestClient) -> None:
    r = keyed.post(
        "/v1/documents",
        headers=ADMIN,
        files=[("files", ("thong-bao-admin.txt", "Thông báo lịch tiếp công dân tháng 8.".encode(), "text/plain"))],
    )
    assert r.status_code == 200, r.text
    (doc,) = r.json()["ingested"]
    assert keyed.delete(f"/v1/documents/{doc}", headers=ADMIN).status_code == 200


def test_health_needs_no_key(keyed: TestClient) -> None:
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/readyz").status_code == 200


def test_open_mode_on_loopback_needs_no_key(open_client: TestClient) -> None:
    assert open_client.post("/v1/ask", json=ASK).status_code == 200
    # with no keys configured the header is ignored rather than judged
    assert open_client.get("/v1/documents", headers={"Authorization": "Bearer whatever"}).status_code == 200


# ---- loopback rule ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_refuses_open_non_loopback_bind(tmp_path: Path, host: str) -> None:
    with pytest.raises(InsecureBind, match="POLICYQA_API_KEYS"):
        create_app(make_settings(tmp_path, host=host))
    check_bind(make_settings(tmp_path, host=host, api_keys=KEYS))  # keys configured: allowed


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
    assert not any(is_loopback(h) for h in ["0.0.0.0", "10.0.0.1", "::", "localhost.example.org"])


def test_serve_command_refuses_open_public_bind(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "POLICYQA_DATA_DIR": str(tmp_path),
        "POLICYQA_API_KEYS": "",
        "HOME": str(Path.home()),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "policyqa", "serve", "--host", "0.0.0.0", "--port", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "refusing to serve on 0.0.0.0" in proc.stderr and "POLICYQA_API_KEYS" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_malformed_key_setting_fails_at_startup(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KEY:reader"):
        create_app(make_settings(tmp_path, api_keys="abc:superuser"))


# ---- rate limiting -------------------------------------------------------------------------------


def test_rate_limit_per_key_with_retry_after(make_client: Any) -> None:
    client = make_client(api_keys=KEYS, rate_limit_per_minute=3)
    for _ in range(3):
        assert client.get("/v1/documents", headers=READER).status_code == 200
    r = client.get("/v1/documents", headers=READER)
    assert_problem(r, 429, contains="3 requests per minute")
    assert int(r.headers["retry-after"]) >= 1
    assert client.get("/v1/documents", headers=ADMIN).status_code == 200  # another key, another bucket
    assert client.get("/healthz").status_code == 200  # probes are not limited
    assert "policyqa_rate_limited_total 1.0" in client.get("/metrics", headers=ADMIN).text


def test_token_bucket_refills() -> None:
    limiter = RateLimiter(per_minute=60)
    for _ in range(60):
        limiter.hit("k", now=100.0)
    with pytest.raises(Exception, match="retry in 1 s"):
        limiter.hit("k", now=100.0)
    limiter.hit("k", now=101.0)  # one token per second comes back


# ---- CORS ----------------------------------------------------------------------------------------


def test_cors_off_by_default(open_client: TestClient) -> None:
    r = open_client.get("/v1/documents", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = open_client.options(
        "/v1/ask", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_when_configured(make_client: Any) -> None:
    client = make_client(cors_origins="http://localhost:3000")
    pre = client.options(
        "/v1/ask",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "http://localhost:3000"
    other = client.get("/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


# ---- request limits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"question": "x" * 201}, "body.question"),
        ({"question": "   "}, "body.question"),
        ({"question": ""}, "body.question"),
        ({"question": "Hỏi?", "history": [{"role": "user", "content": "a"}] * 3}, "body.history"),
        ({"question": "Hỏi?", "top_k": 0}, "body.top_k"),
        ({"question": "Hỏi?", "top_k": 51}, "body.top_k"),
        ({"question": "Hỏi?", "top_k": "5"}, "body.top_k"),
        ({"question": "Hỏi?", "top_k": True}, "body.top_k"),
        ({"question": "Hỏi?", "stream": "yes"}, "body.stream"),
        ({"question": "Hỏi?", "history": [{"role": "system", "content": "a"}]}, "body.history.0.role"),
        ({"question": "Hỏi?", "filters": {"date_from": "hôm qua"}}, "body.filters.date_from"),
        ({"question": "Hỏi?", "unknown": 1}, "body.unknown"),
        ({"history": []}, "body.question"),
        ([1, 2], "body"),
    ],
)
def test_invalid_ask_is_422_with_field_path(open_client: TestClient, body: Any, loc: str) -> None:
    problem = assert_problem(open_client.post("/v1/ask", json=body), 422)
    assert problem["detail"].startswith(loc), problem["detail"]
    assert "errors" in problem and "input" not in problem["errors"][0]


def test_search_limits(open_client: TestClient) -> None:
    assert_problem(open_client.get("/v1/search", params={"q": "x" * 201}), 422, contains="query.q")
    assert_problem(open_client.get("/v1/search", params={"q": "báo chí", "k": 0}), 422, contains="query.k")
    assert_problem(open_client.get("/v1/search"), 422, contains="query.q")


def test_malformed_json_is_400(open_client: TestClient) -> None:
    r = open_client.post("/v1/ask", content='{"question": "Hỏi'.encode(), headers={"Content-Type": "application/json"})
    assert_problem(r, 400, contains="malformed JSON")


def test_oversized_json_body_is_413(open_client: TestClient) -> None:
    body = b'{"question": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    r = open_client.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
    assert_problem(r, 413, contains="larger than")


def test_oversized_chunked_body_is_413_without_content_length(open_client: TestClient) -> None:
    def gen() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(40):
            yield b"a" * 32_768
        yield b'"}'

    r = open_client.post("/v1/ask", content=gen(), headers={"Content-Type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_problem(r, 413, contains="larger than")


def test_unknown_route_and_method_are_problems(open_client: TestClient) -> None:
    assert_problem(open_client.get("/v1/nothing"), 404, contains="no route")
    assert_problem(open_client.put("/v1/ask", json=ASK), 405, contains="not allowed")
    # Allow lists every method of the path, also where two routes share it
    assert open_client.put("/v1/documents").headers["allow"] == "GET, POST"
    assert open_client.put("/v1/documents/x").headers["allow"] == "DELETE, GET"


def test_unexpected_error_is_500_problem_without_trace(open_client: TestClient) -> None:
    def boom() -> None:
        raise RuntimeError("secret internal state /etc/shadow")

    open_client.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
    r = open_client.get("/boom")
    body = assert_problem(r, 500, contains="internal error")
    assert "secret" not in r.text and "RuntimeError" not in r.text and "Traceback" not in r.text
    assert body["instance"] == "/boom"


# ---- uploads -------------------------------------------------------------------------------------


def _zip(names: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, data in names.items():
            zf.writestr(n, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00", "binary"),
        ("van-ban.docx", _zip({"readme.txt": b"hi"}), "ZIP archive"),
        ("bundle.zip", _zip({"a.md": b"# a"}), "ZIP archive"),
        ("cu.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "legacy"),
        ("anh.txt", b"GIF89a\x01\x00\x01\x00\x00\x00\x00", "binary"),  # PNG, JPEG and TIFF are read by OCR
        ("latin1.txt", "Thông báo".encode("utf-16-le"), "binary"),
    ],
)
def test_unsupported_upload_types_are_415_by_content(
    open_client: TestClient, name: str, data: bytes, reason: str
) -> None:
    r = open_client.post("/v1/documents", files=[("files", (name, data, "text/plain"))])
    assert_problem(r, 415, contains=reason)


def test_one_bad_file_rejects_the_whole_upload(open_client: TestClient) -> None:
    before = open_client.get("/v1/documents").json()["total"]
    r = open_client.post(
        "/v1/documents",
        files=[
            ("files", ("tot.txt", "Thông báo hợp lệ về lịch họp.".encode(), "text/plain")),
            ("files", ("xau.exe", b"MZ\x00\x00", "application/octet-stream")),
        ],
    )
    assert_problem(r, 415, contains="xau.exe")
    assert open_client.get("/v1/documents").json()["total"] == before


def test_pdf_renamed_txt_is_read_as_pdf(open_client: TestClient) -> None:
    r = open_client.post("/v1/documents", files=[("files", ("that-ra-la-pdf.txt", make_pdf(), "text/plain"))])
    if r.status_code == 413:  # the synthetic PDF embeds a font; allow a larger upload for this one
        pytest.fail("synthetic PDF larger than the test upload limit")
    assert r.status_code == 200, r.text
    assert r.json()["files"][0] == {
        "filename": "that-ra-la-pdf.txt",
        "detected_format": "pdf",
        "bytes": len(make_pdf()),
    }
    for doc in r.json()["ingested"]:
        open_client.delete(f"/v1/documents/{doc}")


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../../../etc/cron.d/policyqa.md", "policyqa.md"),
        ("..\\..\\Windows\\system32\\evil.txt", "evil.txt"),
        ("/abs/path/to/../thong-bao.txt", "thong-bao.txt"),
        ("..", "upload"),
    ],
)
def test_path_traversal_names_are_never_paths(open_client: TestClient, engine: Any, raw: str, safe: str) -> None:
    data_dir = engine.settings.data_dir
    before = {p for p in data_dir.parent.rglob("*")}
    r = open_client.post(
        "/v1/documents", files=[("files", (raw, "Thông báo về lịch trực cơ quan.".encode(), "text/plain"))]
    )
    assert r.status_code == 200, r.text
    assert r.json()["files"][0]["filename"] == safe
    (doc,) = r.json()["ingested"] or [None]
    assert doc is not None and "/" not in doc and ".." not in doc
    summary = open_client.get(f"/v1/documents/{doc}").json()["document"]
    assert summary["source"] == f"upload:{safe}"
    created = {p for p in data_dir.parent.rglob("*")} - before
    assert all(data_dir in p.parents for p in created), created  # nothing written outside the data dir
    assert not Path("/etc/cron.d/policyqa.md").exists()
    open_client.delete(f"/v1/documents/{doc}")


def test_upload_too_large_is_413(open_client: TestClient) -> None:
    big = ("Thông báo. " * 10_000).encode()  # > 20 kB + multipart allowance
    assert len(big) > 20_000 + 64 * 1024
    r = open_client.post("/v1/documents", files=[("files", ("lon.txt", big, "text/plain"))])
    assert_problem(r, 413, contains="POLICYQA_MAX_UPLOAD_BYTES")


def test_upload_too_large_is_413_when_streamed_without_length(open_client: TestClient) -> None:
    boundary = "xyzBOUNDARY"

    def gen() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="lon.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        for _ in range(200):
            yield b"a" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    r = open_client.post(
        "/v1/documents", content=gen(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert "content-length" not in r.request.headers
    assert_problem(r, 413, contains="POLICYQA_MAX_UPLOAD_BYTES")


def test_too_many_files_is_422(open_client: TestClient) -> None:
    files = [("files", (f"f{i}.txt", f"Thông báo số {i}.".encode(), "text/plain")) for i in range(3)]
    assert_problem(open_client.post("/v1/documents", files=files), 422, contains="at most 2 files")


def test_empty_and_missing_files(open_client: TestClient) -> None:
    assert_problem(
        open_client.post("/v1/documents", files=[("files", ("rong.txt", b"", "text/plain"))]),
        422,
        contains="empty",
    )
    assert_problem(
        open_client.post("/v1/documents", data={"note": "x"}, files=[("other", ("", b"", "text/plain"))]),
        422,
        contains="no file",
    )
    assert_problem(open_client.post("/v1/documents", json={"files": []}), 415, contains="multipart/form-data")


def test_malformed_multipart_is_400(open_client: TestClient) -> None:
    r = open_client.post(
        "/v1/documents", content=b"garbage without boundary", headers={"Content-Type": "multipart/form-data"}
    )
    assert_problem(r, 400, contains="multipart")


# ---- store unavailable ---------------------------------------------------------------------------


def test_store_unavailable_is_503_not_500(embedder: Any, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, chroma_host="127.0.0.1", chroma_port=9)  # nothing listens there
    with TestClient(create_app(settings, embedder=embedder), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        assert_problem(client.get("/readyz"), 503, contains="chroma")
        r = client.post("/v1/ask", json=ASK)
        assert_problem(r, 503, contains="unavailable")
        assert r.headers["retry-after"]
        assert_problem(client.get("/v1/documents"), 503)


def test_store_failing_mid_run_is_503_and_an_error_event(engine_factory: Any) -> None:
    from ingest.pipeline import ingest_uploads
    from rag.store.vectors import make_client

    eng = engine_factory("broken", rate_limit_per_minute=100_000)
    ingest_uploads(eng.store, [("tb.txt", "Thông báo lịch trực cơ quan trong dịp nghỉ lễ Quốc khánh.".encode())])
    with TestClient(create_app(eng.settings, eng), raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        make_client(eng.settings).delete_collection(eng.settings.collection)  # the vectors vanish underneath
        question = {"question": "Lịch trực cơ quan trong dịp nghỉ lễ Quốc khánh thế nào?"}
        assert_problem(client.post("/v1/ask", json=question), 503, contains="unavailable")
        assert_problem(client.get("/v1/search", params={"q": "lịch trực"}), 503)
        assert_problem(client.get("/readyz"), 503, contains="not ready")
        stream = client.post("/v1/ask", json={**question, "stream": True})
        assert stream.status_code == 200  # headers were sent before the failure: it travels as an event
        last = [f for f in stream.text.split("\n\n") if f.strip()][-1]
        assert last.startswith("event: error") and '"status": 503' in last and "Traceback" not in stream.text
        chat = client.post(
            "/v1/chat/completions",
            json={"stream": True, "messages": [{"role": "user", "content": question["question"]}]},
        )
        assert '"error"' in chat.text and chat.text.rstrip().endswith("data: [DONE]")
        assert "Traceback" not in chat.text

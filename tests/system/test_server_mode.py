"""Server mode: several processes (here: engines with their own data dirs, and real API processes) on one
Chroma server see each other's writes; writers are serialised; leftovers of interrupted writes are collected."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from ingest.pipeline import ingest_paths, ingest_uploads, remove_document
from rag.query import understand
from rag.records import Chunk, StoredDocument
from rag.retrieve import search_query
from rag.store.locks import process_lock
from rag.store.vectors import StoreBusy
from tests.conftest import CORPUS, REPO, server_overrides
from tests.servers import free_port, running

pytestmark = pytest.mark.slow

NOTICE = "# Thông báo khẩn\n\nBan Quản lý khu kinh tế tổ chức diễn tập phòng cháy rừng thông vào ngày 14/12/2026.\n"
NOTICE_QUESTION = "Ban Quản lý khu kinh tế diễn tập phòng cháy rừng thông vào ngày nào?"


def test_a_second_process_sees_writes_after_refresh(engine_factory, chroma_server) -> None:  # noqa: ANN001
    shared = server_overrides(chroma_server)
    writer = engine_factory("host-a", **shared)
    reader = engine_factory("host-b", **shared)  # its own data dir: nothing shared but the Chroma server
    assert reader.store.counts() == (0, 0) and not reader.store.refresh()

    ingest_paths(writer.store, [CORPUS])
    assert reader.store.counts() == (0, 0)  # until it looks
    assert reader.store.refresh()
    assert reader.store.counts() == writer.store.counts()
    assert reader.store.snapshot.order == writer.store.snapshot.order
    hits = search_query(reader, understand("Đài Phát thanh – Truyền hình tỉnh có nhiệm vụ gì?"), k=3)
    assert hits and hits[0].chunk.doc_id.startswith("dispatch")
    assert not reader.store.refresh()  # nothing changed since

    report = ingest_uploads(writer.store, [("thong-bao.md", NOTICE.encode())])
    reader.store.refresh()
    hits = search_query(reader, understand(NOTICE_QUESTION), k=1)
    assert hits[0].chunk.doc_id == report.ingested[0] and "14/12/2026" in hits[0].chunk.text

    ingest_uploads(writer.store, [("thong-bao.md", NOTICE.replace("14/12/2026", "21/12/2026").encode())])
    reader.store.refresh()
    texts = " ".join(c.text for c in reader.store.snapshot.chunks.values())
    assert "21/12/2026" in texts and "14/12/2026" not in texts

    remove_document(writer.store, report.ingested[0])
    reader.store.refresh()
    assert report.ingested[0] not in reader.store.snapshot.docs
    assert reader.store.counts() == writer.store.counts()


def test_writers_are_serialised_across_processes(engine_factory) -> None:  # noqa: ANN001
    engine = engine_factory(write_lock_timeout_s=0.5)
    # flock locks belong to an open file: a second open of the lock file conflicts like another process would.
    with process_lock(engine.settings.data_dir / "write.lock", 1.0):
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="another process is writing"):
            ingest_uploads(engine.store, [("a.md", NOTICE.encode())])
        assert 0.4 < time.monotonic() - started < 5
    assert ingest_uploads(engine.store, [("a.md", NOTICE.encode())]).documents == 1


def test_an_upload_waiting_too_long_for_the_lock_is_a_503(engine_factory) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from api.app import create_app

    engine = engine_factory(write_lock_timeout_s=0.5, ui_enabled=False)
    with TestClient(create_app(engine.settings, engine=engine)) as client, \
            process_lock(engine.settings.data_dir / "write.lock", 1.0):
        r = client.post("/v1/documents", files=[("files", ("a.md", NOTICE.encode(), "text/markdown"))])
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("store-busy") and r.headers["retry-after"]


def test_an_embedded_store_has_one_owning_process(engine_factory, tmp_path: Path) -> None:  # noqa: ANN001
    """A second process on an embedded store would write vectors the first never searches: refused, by name."""
    import subprocess

    engine = engine_factory("owned")
    env = {**os.environ, "POLICYQA_DATA_DIR": str(engine.settings.data_dir)}
    env.pop("POLICYQA_CHROMA_HOST", None)
    out = subprocess.run([sys.executable, "-m", "policyqa", "ingest", str(CORPUS)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert f"pid {os.getpid()}" in out.stderr and "POST /v1/documents" in out.stderr
    assert "Traceback" not in out.stderr
    engine.close()  # released: the next process may open it
    out = subprocess.run([sys.executable, "-m", "policyqa", "ingest", str(CORPUS), "--json"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def _leave_orphans(engine, ids: list[str]) -> None:  # noqa: ANN001
    """What a writer killed between its first and its last step leaves: vectors and records nobody lists,
    and its mark as the writer at work."""
    engine.store.docstore.set_info("writer", "pid 1 (killed)")
    doc = next(iter(engine.store.snapshot.docs.values()))
    chunks = [Chunk(id=cid, doc_id="ghost", ordinal=i, text=f"mồ côi {i}", breadcrumb="ghost", kind="paragraph",
                    start=0, end=5) for i, cid in enumerate(ids)]
    engine.store.vectors.upsert(chunks, np.ones((len(ids), 384), dtype=np.float32) / np.sqrt(384), doc.meta)
    if hasattr(engine.store.docstore, "_col"):  # the Chroma manifest keeps chunk records apart from documents
        ghost = StoredDocument(doc_id="ghost", source_key="ghost", root="", sha256="0", format="md", meta=doc.meta,
                               text="", chunk_ids=tuple(ids), warnings=(), ingested_at="")
        engine.store.docstore.put_document(ghost, chunks, [["x"]] * len(ids))
        engine.store.docstore._col.delete(ids=["d:ghost"])  # killed after its chunk records, before the commit


def test_leftovers_of_an_interrupted_write_are_collected(engine_factory, backend) -> None:  # noqa: ANN001
    engine = engine_factory(**backend)
    ingest_paths(engine.store, [CORPUS])
    listed = engine.store.docstore.chunk_ids()
    _leave_orphans(engine, ["orphan-1", "orphan-2"])
    assert engine.store.vectors.all_ids() == listed | {"orphan-1", "orphan-2"}
    if backend:  # server mode: a leftover younger than the grace period may be another host's write in flight
        assert engine.store.collect_garbage() == 0
        engine.store.settings = engine.store.settings.model_copy(update={"gc_grace_s": 0.0})
    report = ingest_paths(engine.store, [CORPUS])  # the next writer clears them first
    assert report.unchanged == 1
    assert engine.store.vectors.all_ids() == listed
    assert engine.store.docstore.get_info("writer") == ""  # this one finished
    assert engine.store.docstore.chunk_records(["orphan-1", "orphan-2"]) == {}


# ---- real API processes -----------------------------------------------------------------------------------
def _serve(tmp: Path, name: str, server: tuple[str, int], collection: str, *extra: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "POLICYQA_DATA_DIR": str(tmp / name), "POLICYQA_CHROMA_HOST": server[0],
           "POLICYQA_CHROMA_PORT": str(server[1]), "POLICYQA_COLLECTION": collection,
           "POLICYQA_RATE_LIMIT_PER_MINUTE": "100000", "POLICYQA_UI_ENABLED": "false", "HF_HUB_OFFLINE": "1"}
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "policyqa", "serve", "--port", str(port), "--log-level", "warning", *extra]
    with running(cmd, ready_url=f"{base}/readyz", log_path=tmp / f"{name}.log", env=env, cwd=REPO, timeout_s=300):
        yield base


def _ask(base: str) -> dict:
    r = httpx.post(f"{base}/v1/ask", json={"question": NOTICE_QUESTION}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _sees_notice(body: dict) -> bool:
    return any("14/12/2026" in c["quote"] for c in body["citations"])


def test_upload_through_one_api_process_is_answered_by_another(tmp_path: Path, chroma_server) -> None:  # noqa: ANN001
    collection = server_overrides(chroma_server)["collection"]
    a_ctx = _serve(tmp_path, "api-a", chroma_server, str(collection))
    b_ctx = _serve(tmp_path, "api-b", chroma_server, str(collection), "--workers", "2")
    a, b = next(a_ctx), next(b_ctx)
    try:
        assert not _sees_notice(_ask(b))
        r = httpx.post(f"{a}/v1/documents", files=[("files", ("thong-bao.md", NOTICE.encode(), "text/markdown"))],
                       timeout=120)
        assert r.status_code == 200, r.text
        uploaded = time.monotonic()
        # Each new connection may land on either of b's two workers: all must see it, within the bound.
        consecutive = 0
        while consecutive < 8:
            with httpx.Client() as fresh:
                body = fresh.post(f"{b}/v1/ask", json={"question": NOTICE_QUESTION}, timeout=60).json()
            consecutive = consecutive + 1 if _sees_notice(body) else 0
            assert time.monotonic() - uploaded < 15, "the upload did not reach every worker within 15 s"
            time.sleep(0.1)
        ready = httpx.get(f"{b}/readyz").json()
        assert ready["documents"] == 1
    finally:
        for ctx in (a_ctx, b_ctx):
            ctx.close()


def test_several_workers_need_a_chroma_server(tmp_path: Path) -> None:
    import subprocess

    env = {**os.environ, "POLICYQA_DATA_DIR": str(tmp_path / "d")}
    env.pop("POLICYQA_CHROMA_HOST", None)
    out = subprocess.run([sys.executable, "-m", "policyqa", "serve", "--workers", "2", "--port", str(free_port())],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "needs a Chroma server" in out.stderr


# ---- store outage ------------------------------------------------------------------------------------------
def test_store_outage_gives_503_and_recovers(tmp_path: Path) -> None:
    from tests.servers import chroma_command, chroma_ready_url

    port = free_port()
    chroma = (chroma_command(tmp_path / "chroma", port), chroma_ready_url(port))
    first = running(chroma[0], ready_url=chroma[1], log_path=tmp_path / "chroma-1.log", env=os.environ, timeout_s=60)
    first.__enter__()
    api_ctx = _serve(tmp_path, "api", ("127.0.0.1", port), "outage")
    api = next(api_ctx)
    try:
        r = httpx.post(f"{api}/v1/documents", files=[("files", ("thong-bao.md", NOTICE.encode(), "text/markdown"))],
                       timeout=120)
        assert r.status_code == 200 and _sees_notice(_ask(api))

        first.__exit__(None, None, None)  # the Chroma server goes away
        ready = httpx.get(f"{api}/readyz", timeout=30)
        assert ready.status_code == 503 and ready.headers["content-type"] == "application/problem+json"
        r = httpx.post(f"{api}/v1/ask", json={"question": NOTICE_QUESTION}, timeout=60)
        assert r.status_code == 503, r.text
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert problem["status"] == 503 and "store" in problem["type"] and problem["detail"]
        assert "Traceback" not in r.text
        assert httpx.get(f"{api}/healthz").status_code == 200  # alive, just not ready

        with running(chroma[0], ready_url=chroma[1], log_path=tmp_path / "chroma-2.log", env=os.environ,
                     timeout_s=60):
            deadline = time.monotonic() + 30
            while httpx.get(f"{api}/readyz", timeout=30).status_code != 200:
                assert time.monotonic() < deadline, "the API did not recover within 30 s of the store's return"
                time.sleep(0.5)
            assert _sees_notice(_ask(api))  # same API process, same data, no restart
    finally:
        api_ctx.close()
        first.__exit__(None, None, None)


def test_two_workers_hold_32_clients_without_errors(tmp_path: Path, chroma_server) -> None:  # noqa: ANN001
    """`bench load` (a second process) against fresh workers: their first asks arrive concurrently."""
    import json
    import subprocess

    collection = str(server_overrides(chroma_server)["collection"])
    env = {**os.environ, "POLICYQA_DATA_DIR": str(tmp_path / "ingest"), "POLICYQA_CORPUS_DIR": str(CORPUS),
           "POLICYQA_CHROMA_HOST": chroma_server[0],
           "POLICYQA_CHROMA_PORT": str(chroma_server[1]), "POLICYQA_COLLECTION": collection, "HF_HUB_OFFLINE": "1"}
    ingest = subprocess.run([sys.executable, "-m", "policyqa", "ingest", "--json"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    ctx = _serve(tmp_path, "api", chroma_server, collection, "--workers", "2")
    base = next(ctx)
    try:
        out = subprocess.run([sys.executable, "-m", "policyqa", "bench", "load", "--url", base, "--clients", "8,32",
                              "--requests", "64", "--max-seconds", "60", "--json"],
                             env=os.environ, cwd=REPO, capture_output=True, text=True, timeout=300)
        levels = json.loads(out.stdout)["levels"]
        assert [lv["errors"] for lv in levels] == [0, 0], levels
        assert out.returncode == 0
    finally:
        ctx.close()


def test_api_started_while_the_store_is_down_becomes_ready_when_it_comes_up(tmp_path: Path) -> None:
    import subprocess

    from tests.servers import chroma_command, chroma_ready_url

    chroma_port, port = free_port(), free_port()
    env = {**os.environ, "POLICYQA_DATA_DIR": str(tmp_path / "api"), "POLICYQA_CHROMA_HOST": "127.0.0.1",
           "POLICYQA_CHROMA_PORT": str(chroma_port), "POLICYQA_UI_ENABLED": "false", "HF_HUB_OFFLINE": "1"}
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "api.log").open("wb") as log:
        api = subprocess.Popen([sys.executable, "-m", "policyqa", "serve", "--port", str(port), "--log-level",
                                "warning"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while True:  # the process serves (healthz) although its store cannot be opened
            assert api.poll() is None, (tmp_path / "api.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.5)
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 503 and "Chroma" in ready.json()["detail"]
        assert httpx.post(f"{base}/v1/ask", json={"question": NOTICE_QUESTION}, timeout=30).status_code == 503
        with running(chroma_command(tmp_path / "chroma", chroma_port), ready_url=chroma_ready_url(chroma_port),
                     log_path=tmp_path / "chroma.log", env=os.environ, timeout_s=60):
            deadline = time.monotonic() + 30
            while httpx.get(f"{base}/readyz", timeout=10).status_code != 200:
                assert time.monotonic() < deadline, "not ready 30 s after the store came up"
                time.sleep(0.5)
            r = httpx.post(f"{base}/v1/documents", files=[("files", ("tb.md", NOTICE.encode(), "text/markdown"))],
                           timeout=120)
            assert r.status_code == 200 and _sees_notice(_ask(base))
    finally:
        api.terminate()
        api.wait(timeout=30)

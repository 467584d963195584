"""The UI's two backends on a real store: in-process over the engine, and HTTP over the real API app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.pipeline import ingest_paths
from tests.conftest import CORPUS, make_settings
from tests.documents import make_docx
from ui.app import mount_ui
from ui.backend import HttpBackend, InProcessBackend, UploadDenied
from ui.chat import attach_passages, make_filters

pytestmark = pytest.mark.slow

QUESTION = "UBND các huyện, thành phố phải làm gì?"
CORRUPT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage \x00\x01\x02 not a pdf"


def done_of(events: Iterator[Any]) -> dict[str, Any]:
    evs = list(events)
    assert evs[-1].type == "done", evs[-1]
    assert any(e.type == "token" for e in evs) and any(e.type == "citations" for e in evs)
    return evs[-1].data


def test_in_process_answer_documents_and_passages(corpus_engine: Any) -> None:
    backend = InProcessBackend(lambda: corpus_engine, corpus_engine.settings)
    done = done_of(backend.ask(QUESTION, [], None))
    assert not done["abstained"] and done["citations"]
    cited = attach_passages(backend, done["citations"])
    for c in cited:
        text = corpus_engine.store.snapshot.docs[c["doc_id"]].text
        assert text[c["start"]:c["end"]] == c["quote"]
        offset = c["start"] - c["passage_start"]
        assert c["passage"][offset:offset + len(c["quote"])] == c["quote"]  # the chunk holds the quote
    docs = backend.documents()
    assert docs and all(d["chunks"] > 0 for d in docs)
    dispatch = next(d for d in docs if d["number"] and d["number"].endswith("STTTT-TTBCXB"))
    assert dispatch["doc_type"] == "công văn"
    full = backend.document(dispatch["id"])
    assert full is not None and full["chunks"] and full["text"]
    assert backend.document("no-such-doc") is None
    assert backend.upload_needs_key() is False
    only = done_of(backend.ask(QUESTION, [], make_filters("", dispatch["id"])))
    assert only["citations"] and {c["doc_id"] for c in only["citations"]} == {dispatch["id"]}
    assert done_of(backend.ask(QUESTION, [], make_filters("luật", "")))["abstained"]  # no law is stored


def test_upload_needs_an_admin_key_when_keys_are_configured(engine_factory: Any) -> None:
    engine = engine_factory(api_keys="adm-key:admin,rd-key:reader")
    backend = InProcessBackend(lambda: engine, engine.settings)
    assert backend.upload_needs_key()
    files = [("cong-van.docx", make_docx()), ("hong.pdf", CORRUPT_PDF)]
    for key in (None, "", "rd-key", "wrong"):
        with pytest.raises(UploadDenied):
            backend.upload(files, key)
    assert engine.store.counts() == (0, 0)
    report = backend.upload(files, "adm-key")
    assert report["documents"] == 1 and report["added"] > 0
    assert [f["path"] for f in report["failed"]] == ["hong.pdf"] and report["failed"][0]["error"]


def test_engine_not_open_yet_is_reported() -> None:
    from rag.settings import Settings
    from ui.backend import BackendUnavailable

    backend = InProcessBackend(lambda: None, Settings())
    with pytest.raises(BackendUnavailable):
        list(backend.ask("x", [], None))


@pytest.fixture(scope="module")
def api(embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Any]]:
    from rag.runtime import open_runtime

    settings = make_settings(tmp_path_factory.mktemp("ui-api"), api_keys="adm-key:admin,rd-key:reader",
                             rate_limit_per_minute=100_000)
    engine = open_runtime(settings, embedder=embedder)
    assert not ingest_paths(engine.store, [CORPUS]).failed
    app = create_app(settings, engine)
    mount_ui(app, settings)
    mount_ui(app, settings)  # idempotent: create_app may already have mounted it
    yield app, engine
    engine.close()


def test_http_backend_matches_in_process(api: tuple[FastAPI, Any]) -> None:
    app, engine = api
    with TestClient(app) as client:
        remote = HttpBackend("http://testserver", engine.settings, key="rd-key", client=client)
        local = InProcessBackend(lambda: engine, engine.settings)
        got, want = done_of(remote.ask(QUESTION, [], None)), done_of(local.ask(QUESTION, [], None, "rd-key"))
        assert got["answer"] == want["answer"] and got["citations"] == want["citations"]
        assert [d["id"] for d in remote.documents()] == [d["id"] for d in local.documents("rd-key")]
        doc_id = want["citations"][0]["doc_id"]
        assert remote.document(doc_id)["text"] == local.document(doc_id, "rd-key")["text"]  # type: ignore[index]
        assert remote.document("no-such-doc") is None
        cited = attach_passages(remote, got["citations"])
        assert all(c["passage"] for c in cited)
        assert remote.upload_needs_key() is False and remote.settings_snapshot()["embedding_model"]

        with pytest.raises(UploadDenied):
            remote.upload([("a.docx", make_docx())], None)  # the reader key may not upload
        refused = remote.upload([("x.zip", b"PK\x03\x04" + b"\x00" * 40)], "adm-key")
        assert refused["rejected"]
        report = remote.upload([("cong-van.docx", make_docx())], "adm-key")
        assert report["documents"] == 2 and not report["failed"]

        unauthorised = HttpBackend("http://testserver", engine.settings, client=client)
        evs = list(unauthorised.ask(QUESTION, [], None))
        assert evs[-1].type == "error" and evs[-1].data["title"] == "HTTP 401"


def test_mounted_routes(api: tuple[FastAPI, Any]) -> None:
    app, engine = api
    with TestClient(app) as client:
        home = client.get("/", follow_redirects=False)
        assert home.status_code == 307 and home.headers["location"] == "ui/"
        # Keys are configured: the UI and the document view ask for one (Basic, key as password) ...
        doc = next(d for d in engine.store.snapshot.docs.values() if d.source_key.endswith("TTBCXB.md"))
        chunk = engine.store.snapshot.chunks[doc.chunk_ids[2]]
        for path in ("/ui/", f"/ui-doc/{doc.doc_id}", "/ui/gradio_api/info"):
            denied = client.get(path)
            assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Basic"), path
        assert client.get("/ui/", auth=("x", "wrong-key")).status_code == 401
        # ... and any configured key opens them, a reader key included.
        client.auth = ("can-bo", "rd-key")
        page = client.get("/ui/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        view = client.get(f"/ui-doc/{doc.doc_id}", params={"start": chunk.start, "end": chunk.end})
        assert view.status_code == 200 and '<mark id="passage"' in view.text
        assert client.get("/ui-doc/no-such-doc").status_code == 404
        assert client.get("/ui-doc/x", params={"start": -1}).status_code == 422
        assert client.get("/v1/documents").status_code == 401  # the API's own auth is untouched


def test_both_backends_show_each_key_only_its_audience(engine_factory: Any, tmp_path: Any) -> None:
    from ui.backend import AdminOnly, KeyDenied

    engine = engine_factory(api_keys="adm-key:admin,a-key:reader:so-tttt,rd-key:reader", rate_limit_per_minute=100_000)
    secret = tmp_path / "mat.md"
    secret.write_text("---\ntitle: Công văn mật nhóm A\naudience: so-tttt\n---\n"
                      "1. Sở Thông tin và Truyền thông bảo mật hồ sơ chuyển đổi số của tỉnh.\n", encoding="utf-8")
    assert not ingest_paths(engine.store, [CORPUS, secret]).failed
    local = InProcessBackend(lambda: engine, engine.settings)
    question = "Sở Thông tin và Truyền thông bảo mật hồ sơ gì?"
    with TestClient(create_app(engine.settings, engine)) as client:
        remote = HttpBackend("http://testserver", engine.settings, key="rd-key", client=client)
        for backend in (local, remote):
            assert "mat" in {d["id"] for d in backend.documents("a-key")}
            assert "mat" not in {d["id"] for d in backend.documents("rd-key")}
            assert backend.document("mat", "a-key") is not None
            assert backend.document("mat", "rd-key") is None  # cached per key: the reader never gets A's copy
            cited = {c["doc_id"] for c in done_of(backend.ask(question, [], None, "a-key"))["citations"]}
            assert "mat" in cited
            public = [e for e in backend.ask(question, [], None, "rd-key") if e.type == "done"]
            assert "mat" not in str(public[0].data)
    with pytest.raises(KeyDenied):
        local.documents("not-a-key")
    with TestClient(create_app(engine.settings, engine)) as client:
        remote = HttpBackend("http://testserver", engine.settings, client=client)
        client.get("/v1/search", params={"q": "báo chí"}, headers={"Authorization": "Bearer a-key"})
        for backend in (local, remote):  # the admin views: admin keys only, on both backends
            assert backend.is_admin("adm-key") and not backend.is_admin("a-key")
            with pytest.raises(AdminOnly):
                backend.audit("rd-key")
        newest = remote.audit("adm-key", "search", None, 1)
        assert len(newest) == 1 and newest[0]["groups"] == ["so-tttt"]


def test_both_backends_keep_a_keys_conversations_in_the_apis_file(engine_factory: Any) -> None:
    engine = engine_factory(api_keys="adm-key:admin,one-key:reader,two-key:reader", rate_limit_per_minute=100_000)
    assert not ingest_paths(engine.store, [CORPUS]).failed
    app = create_app(engine.settings, engine)
    mount_ui(app, engine.settings)
    with TestClient(app) as client:
        local = InProcessBackend(lambda: engine, engine.settings, app.state.conversations)
        remote = HttpBackend("http://testserver", engine.settings, client=client)
        for backend in (local, remote):
            made = backend.new_conversation("", "one-key")
            done = done_of(backend.ask(QUESTION, [], None, "one-key", made["id"]))
            assert done["citations"]
            got = backend.conversation(made["id"], "one-key")
            assert got is not None and got["turns"][0]["question"] == QUESTION and got["title"] == QUESTION
            assert backend.conversation(made["id"], "two-key") is None
            assert made["id"] not in {c["id"] for c in backend.conversations("two-key")}
            assert not backend.rename_conversation(made["id"], "x", "two-key")
            assert backend.rename_conversation(made["id"], "Việc của UBND", "one-key")
            # what one backend saved, the other lists: the UI and the API share the key's conversations
            other = remote if backend is local else local
            assert "Việc của UBND" in {c["title"] for c in other.conversations("one-key")}
            assert not backend.delete_conversation(made["id"], "two-key")
            assert backend.delete_conversation(made["id"], "one-key")
            assert backend.conversation(made["id"], "one-key") is None


def test_ui_answers_are_audited_and_download_as_docx_for_their_key(api: tuple[FastAPI, Any]) -> None:
    from rag.audit.docx import footnote_texts

    app, engine = api
    with TestClient(app) as client:
        local = InProcessBackend(lambda: engine, engine.settings, app.state.conversations, app.state.audit)
        done = done_of(local.ask(QUESTION, [], None, "rd-key"))
        record = app.state.audit.get(done["answer_id"])
        assert record is not None and record.route == "ui_ask" and record.role == "reader"
        assert [c.chunk_id for c in record.citations] == [c["chunk_id"] for c in done["citations"]]
        url = f"/ui-export/{done['answer_id']}"
        assert client.get(url).status_code == 401  # the UI's key prompt covers the download too
        got = client.get(url, auth=("can-bo", "rd-key"))
        assert got.status_code == 200 and len(footnote_texts(got.content)) == len(done["citations"])
        assert client.get(url, auth=("can-bo", "adm-key")).status_code == 404  # another key's answer
        pdf = client.get(url, params={"format": "pdf"}, auth=("can-bo", "rd-key"))
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        remote = HttpBackend("http://testserver", engine.settings, key="rd-key", client=client)
        assert remote.export(done["answer_id"]).status == 200  # the API's export reads the same trail

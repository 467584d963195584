"""Saved conversations over HTTP: they belong to the key, survive a restart, feed follow-ups their history,
and another key gets 404 for every one of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.conftest import CORPUS, make_settings

KEYS = "c-admin:admin,c-one:reader,c-two:reader"
FIRST = "Các cơ quan báo chí phải làm gì?"
FOLLOW_UP = "Còn Đài Phát thanh – Truyền hình tỉnh thì sao?"


@pytest.fixture(scope="module")
def engine(embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from ingest.pipeline import ingest_paths
    from rag.runtime import open_runtime

    eng = open_runtime(make_settings(tmp_path_factory.mktemp("conv"), api_keys=KEYS,
                                     rate_limit_per_minute=100_000), embedder=embedder)
    assert not ingest_paths(eng.store, [CORPUS]).failed
    yield eng
    eng.close()


def _client(engine: Any) -> TestClient:
    return TestClient(create_app(engine.settings, engine), raise_server_exceptions=False)


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_conversation_keeps_its_exchanges_and_feeds_follow_ups(engine: Any) -> None:
    with _client(engine) as client:
        made = client.post("/v1/conversations", json={}, headers=_h("c-one"))
        assert made.status_code == 201 and made.json()["exchanges"] == 0
        cid = made.json()["id"]
        first = client.post("/v1/ask", json={"question": FIRST, "conversation_id": cid}, headers=_h("c-one")).json()
        assert first["citations"] and first["answer_id"]
        # The follow-up is streamed; its history comes from the stored exchange, not from the request.
        streamed = client.post("/v1/ask", json={"question": FOLLOW_UP, "conversation_id": cid, "stream": True},
                               headers=_h("c-one"))
        done = [json.loads(line[5:]) for line in streamed.text.splitlines() if line.startswith("data:")][-1]
        alone = client.post("/v1/ask", json={"question": FOLLOW_UP}, headers=_h("c-one")).json()
        assert alone["standalone_question"] == FOLLOW_UP
        assert done["standalone_question"] != FOLLOW_UP  # rewritten from the stored first exchange

        got = client.get(f"/v1/conversations/{cid}", headers=_h("c-one")).json()
        assert got["title"] == FIRST and got["exchanges"] == 2
        assert [t["question"] for t in got["turns"]] == [FIRST, FOLLOW_UP]
        assert got["turns"][0]["answer"]["answer_id"] == first["answer_id"]
        assert got["turns"][1]["answer"]["answer_id"] == done["answer_id"]
        assert got["turns"][0]["answer"]["citations"] == first["citations"]

        both = client.post("/v1/ask", json={"question": FOLLOW_UP, "conversation_id": cid,
                                            "history": [{"role": "user", "content": FIRST}]}, headers=_h("c-one"))
        assert both.status_code == 422 and "conversation_id" in both.json()["detail"]
        assert client.get(f"/v1/conversations/{cid}", headers=_h("c-one")).json()["exchanges"] == 2


def test_conversations_survive_a_restart_and_stay_with_their_key(engine: Any) -> None:
    with _client(engine) as client:
        cid = client.post("/v1/conversations", json={"title": "Báo chí"}, headers=_h("c-one")).json()["id"]
        client.post("/v1/ask", json={"question": FIRST, "conversation_id": cid}, headers=_h("c-one"))
    with _client(engine) as client:  # a new app over the same data dir: a server restart
        mine = client.get("/v1/conversations", headers=_h("c-one")).json()["conversations"]
        assert cid in [c["id"] for c in mine]
        assert next(c for c in mine if c["id"] == cid) ["title"] == "Báo chí"
        assert cid not in [c["id"] for c in client.get("/v1/conversations", headers=_h("c-two")).json()[
            "conversations"]]
        for key in ("c-two", "c-admin"):  # not even an admin reads another key's conversation
            h = _h(key)
            assert client.get(f"/v1/conversations/{cid}", headers=h).status_code == 404
            assert client.patch(f"/v1/conversations/{cid}", json={"title": "x"}, headers=h).status_code == 404
            assert client.delete(f"/v1/conversations/{cid}", headers=h).status_code == 404
            asked = client.post("/v1/ask", json={"question": FIRST, "conversation_id": cid}, headers=h)
            assert asked.status_code == 404
        assert client.get(f"/v1/conversations/{cid}", headers=_h("c-one")).json()["exchanges"] == 1


def test_rename_delete_and_bad_ids(engine: Any) -> None:
    with _client(engine) as client:
        h = _h("c-two")
        cid = client.post("/v1/conversations", json={}, headers=h).json()["id"]
        renamed = client.patch(f"/v1/conversations/{cid}", json={"title": "  Hỏi   về  quyền con người "},
                               headers=h)
        assert renamed.status_code == 200 and renamed.json()["title"] == "Hỏi về quyền con người"
        assert client.patch(f"/v1/conversations/{cid}", json={"title": ""}, headers=h).status_code == 422
        assert client.get("/v1/conversations/not-an-id", headers=h).status_code == 422
        assert client.post("/v1/ask", json={"question": FIRST, "conversation_id": "0" * 32},
                           headers=h).status_code == 404
        assert client.delete(f"/v1/conversations/{cid}", headers=h).status_code == 204
        assert client.get(f"/v1/conversations/{cid}", headers=h).status_code == 404
        assert client.get("/v1/conversations", headers={}).status_code == 401


def test_an_unwritable_conversations_file_is_a_503_and_the_answer_is_still_given(engine: Any,
                                                                                 tmp_path: Any) -> None:
    from rag.conversations import ConversationStore, ConversationsUnavailable

    with _client(engine) as client:
        h = _h("c-one")
        cid = client.post("/v1/conversations", json={}, headers=h).json()["id"]
        good = client.app.state.conversations  # type: ignore[attr-defined]
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("x")
        client.app.state.conversations = ConversationStore(blocker / "c.sqlite")  # type: ignore[attr-defined]
        r = client.get("/v1/conversations", headers=h)
        assert r.status_code == 503 and r.headers["retry-after"] and "Traceback" not in r.text

        class FullDisk(ConversationStore):  # the conversation reads, but the exchange cannot be written
            def append(self, *args: Any, **kwargs: Any) -> bool:
                raise ConversationsUnavailable("disk full")

        client.app.state.conversations = FullDisk(good.path)  # type: ignore[attr-defined]
        ok = client.post("/v1/ask", json={"question": FIRST, "conversation_id": cid}, headers=h)
        assert ok.status_code == 200 and ok.json()["citations"]
        client.app.state.conversations = good  # type: ignore[attr-defined]
        assert client.get(f"/v1/conversations/{cid}", headers=h).json()["exchanges"] == 0

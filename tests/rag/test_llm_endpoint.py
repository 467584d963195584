"""openai mode against real HTTP endpoints on loopback: failures degrade, answers are verified and streamed.

The endpoints are tiny local servers speaking the OpenAI chat-completions wire format (scripted replies,
500s, malformed JSON, stalls, dropped streams); the client is the real LangChain ChatOpenAI and the
store is the real corpus index.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rag.answer.entry import answer
from rag.answer.events import answer_events
from rag.llm.generators import OpenAIGenerator
from rag.llm.loading import load_generator
from tests.conftest import make_settings

QUESTION = "Báo cáo buôn người năm 2023 của Mỹ được công bố ngày nào?"
TIP_CLAIM = "Báo cáo buôn người (TIP) năm 2023 của Mỹ được công bố ngày 24/6/2024"


def scripted_reply(body: dict[str, Any], truncated: bool = False) -> str:
    """A model that answers from the prompt it was sent: one good claim, one wrong date, one unmarked
    supported sentence, one claim citing a source that does not exist."""
    prompt = "\n".join(m["content"] for m in body["messages"])
    n = next(m.group(1) for m in re.finditer(r'<nguon so="(\d+)">(.*?)</nguon>', prompt, re.S)
             if "Báo cáo buôn người (TIP) năm 2023" in m.group(2))
    if truncated:  # cut by the token limit in the middle of a sentence that quotes the passage
        return f"{TIP_CLAIM} [{n}]. Đây là năm thứ hai liên tiếp, thứ hạng của Việt"
    return (f"{TIP_CLAIM} [{n}]. Báo cáo này được công bố ngày 25/6/2024 [{n}]. "
            "Đây là năm thứ hai liên tiếp, thứ hạng của Việt Nam trong báo cáo thường niên về TIP được cải "
            "thiện. Việt Nam được xếp hạng cao nhất thế giới về phòng chống mua bán người [99].")


def _completion(text: str, finish: str = "stop") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def _chunk(text: str, finish: str | None = None) -> bytes:
    data = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "test",
            "choices": [{"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}]}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class FakeLLM:
    """An OpenAI-compatible server on 127.0.0.1 whose behaviour each test chooses."""

    def __init__(self) -> None:
        self.behaviour = "scripted"
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up (timeout)
                    fake.respond(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def respond(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        kind = self.behaviour
        if kind == "500":
            self._send(h, 500, b'{"error": {"message": "boom"}}')
        elif kind == "malformed":
            self._send(h, 200, b'{"id": "x", "choices": [{"message": ')
        elif kind == "empty":
            self._send(h, 200, json.dumps(_completion("")).encode())
        elif kind == "no-choices":
            self._send(h, 200, json.dumps({**_completion("x"), "choices": []}).encode())
        elif kind == "length" and not body.get("stream"):
            self._send(h, 200, json.dumps(_completion(scripted_reply(body, True), "length")).encode())
        elif kind == "slow":
            time.sleep(3)
            self._send(h, 200, json.dumps(_completion("quá muộn")).encode())
        elif body.get("stream"):
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.end_headers()
            pieces = re.findall(r"\S+\s*", scripted_reply(body, truncated=kind == "length"))
            if kind == "drop":  # the first sentence and a bit, then the connection dies mid-stream
                for piece in pieces[:20]:
                    h.wfile.write(_chunk(piece))
                h.wfile.write(b"data: {\"choices\": [{\"delta\": ")
                h.wfile.flush()
                return
            for piece in pieces:
                h.wfile.write(_chunk(piece))
            h.wfile.write(_chunk("", finish="length" if kind == "length" else "stop"))
            h.wfile.write(b"data: [DONE]\n\n")
        else:
            self._send(h, 200, json.dumps(_completion(scripted_reply(body)), ensure_ascii=False).encode())

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM()
    yield server
    server.close()


@pytest.fixture
def llm(fake_llm: FakeLLM) -> FakeLLM:
    fake_llm.behaviour = "scripted"
    fake_llm.requests.clear()
    return fake_llm


def _generator(tmp_path: Path, base_url: str, **overrides: object) -> OpenAIGenerator:
    options: dict[str, object] = {"answer_mode": "openai", "llm_base_url": base_url,
                                  "llm_model": "test-model", "llm_timeout_s": 5.0, "llm_retries": 1,
                                  "llm_max_tokens": 300}
    gen = load_generator(make_settings(tmp_path, **{**options, **overrides}))
    assert isinstance(gen, OpenAIGenerator)
    return gen


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def extractive(corpus_engine: Any) -> Any:
    ans = answer(QUESTION, engine=corpus_engine)
    assert not ans.abstained and ans.mode == "extractive"
    return ans


def _assert_degraded(ans: Any, extractive: Any) -> None:
    assert ans.mode == "extractive" and not ans.abstained
    assert ans.text == extractive.text and ans.citations == extractive.citations
    assert len(ans.warnings) == 1 and "LLM unavailable" in ans.warnings[0]


# ---- failures degrade to the extractive answer -----------------------------------------------------------


@pytest.mark.slow
def test_connection_refused_degrades_to_extractive(corpus_engine: Any, extractive: Any,
                                                   tmp_path: Path) -> None:
    gen = _generator(tmp_path, f"http://127.0.0.1:{_closed_port()}/v1")
    t0 = time.perf_counter()
    ans = answer(QUESTION, engine=corpus_engine, generator=gen)
    assert time.perf_counter() - t0 < 15  # one retry with a short backoff, not a hang
    _assert_degraded(ans, extractive)
    assert "ConnectionError" in ans.warnings[0]


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", ["500", "malformed", "empty", "no-choices"])
def test_bad_responses_degrade_to_extractive(behaviour: str, corpus_engine: Any, extractive: Any,
                                             llm: FakeLLM, tmp_path: Path) -> None:
    llm.behaviour = behaviour
    ans = answer(QUESTION, engine=corpus_engine, generator=_generator(tmp_path, llm.base_url))
    _assert_degraded(ans, extractive)
    # 5xx is retried exactly llm_retries times; other failures are not retried.
    assert len(llm.requests) == (2 if behaviour == "500" else 1)


@pytest.mark.slow
def test_retries_are_bounded_by_settings(corpus_engine: Any, extractive: Any, llm: FakeLLM,
                                         tmp_path: Path) -> None:
    llm.behaviour = "500"
    ans = answer(QUESTION, engine=corpus_engine, generator=_generator(tmp_path, llm.base_url, llm_retries=0))
    _assert_degraded(ans, extractive)
    assert len(llm.requests) == 1


@pytest.mark.slow
def test_timeout_degrades_to_extractive(corpus_engine: Any, extractive: Any, llm: FakeLLM,
                                        tmp_path: Path) -> None:
    llm.behaviour = "slow"
    gen = _generator(tmp_path, llm.base_url, llm_timeout_s=0.5, llm_retries=0)
    t0 = time.perf_counter()
    ans = answer(QUESTION, engine=corpus_engine, generator=gen)
    assert time.perf_counter() - t0 < 3
    _assert_degraded(ans, extractive)
    assert "Timeout" in ans.warnings[0]


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", ["500", "drop"])
def test_stream_failure_ends_in_the_extractive_answer_not_an_error(
        behaviour: str, corpus_engine: Any, extractive: Any, llm: FakeLLM, tmp_path: Path) -> None:
    llm.behaviour = behaviour
    events = list(answer_events(QUESTION, engine=corpus_engine, generator=_generator(tmp_path, llm.base_url)))
    assert [e.type for e in events].count("error") == 0
    done = events[-1]
    assert done.type == "done" and done.data["mode"] == "extractive"
    assert done.data["answer"] == extractive.text and "LLM unavailable" in done.data["warnings"][0]
    streamed = "".join(e.data["text"] for e in events if e.type == "token")
    status = events[[e.type for e in events].index("citations") - 1].data
    if behaviour == "drop":
        # The first sentence had been verified and streamed before the failure: clients are told to
        # replace it with done.answer (the extractive answer).
        assert TIP_CLAIM in streamed and status["replace"] is True
    else:
        assert streamed == extractive.text and "replace" not in status


# ---- successful answers are verified ------------------------------------------------------------------


def _assert_verified(text: str, citations: list[Any] | tuple[Any, ...]) -> None:
    assert "24/6/2024" in text and "25/6/2024" not in text  # wrong date removed
    assert "[99]" not in text and "cao nhất thế giới" not in text  # out-of-range marker: sentence removed
    assert re.search(r"được cải thiện\. \[\d\]", text)  # the unmarked sentence got its marker
    assert 1 <= len(citations) <= 2


@pytest.mark.slow
def test_generated_answer_is_verified(corpus_engine: Any, llm: FakeLLM, tmp_path: Path) -> None:
    ans = answer(QUESTION, engine=corpus_engine, generator=_generator(tmp_path, llm.base_url))
    assert ans.mode == "openai" and not ans.abstained and ans.warnings == ()
    _assert_verified(ans.text, ans.citations)
    assert ans.removed_sentences == 2
    doc = corpus_engine.store.snapshot.docs[ans.citations[0].doc_id].text
    assert all(doc[c.start:c.end] == c.quote for c in ans.citations)
    # What was sent: the configured model and limits, the Vietnamese rules, the sources as delimited data.
    sent = llm.requests[-1]
    assert sent["model"] == "test-model" and sent["max_tokens"] == 300 and sent["temperature"] == 0.0
    system, user = sent["messages"]
    assert system["role"] == "system" and "Chỉ trả lời bằng thông tin có trong các nguồn" in system["content"]
    assert user["content"].count("<tai_lieu>") == 1 and QUESTION in user["content"]


@pytest.mark.slow
def test_fold_system_sends_one_user_turn(corpus_engine: Any, llm: FakeLLM, tmp_path: Path) -> None:
    gen = _generator(tmp_path, llm.base_url, llm_fold_system=True)
    answer(QUESTION, engine=corpus_engine, generator=gen)
    (only,) = llm.requests[-1]["messages"]
    assert only["role"] == "user" and only["content"].startswith("Bạn là trợ lý")


@pytest.mark.slow
def test_streamed_tokens_then_verified_citations_in_the_final_event(corpus_engine: Any, llm: FakeLLM,
                                                                    tmp_path: Path) -> None:
    events = list(answer_events(QUESTION, engine=corpus_engine, generator=_generator(tmp_path, llm.base_url)))
    types = [e.type for e in events]
    assert types[:2] == ["status", "status"] and events[1].data == {"stage": "generating"}
    assert types[-2:] == ["citations", "done"] and "error" not in types
    # Tokens arrive while the model is still writing (before the final status), sentence by sentence,
    # and only what the verifier kept: the wrong date and the out-of-range claim never reach a client.
    final_status = types.index("citations") - 1
    assert "token" in types[2:final_status - 1]
    streamed = "".join(e.data["text"] for e in events if e.type == "token")
    assert "[99]" not in streamed and "25/6/2024" not in streamed and types.count("token") > 10
    assert events[final_status].data == {"stage": "answering", "abstained": False}
    done = events[-1].data
    assert streamed == done["answer"] and done["mode"] == "openai" and llm.requests[-1]["stream"] is True
    _assert_verified(done["answer"], done["citations"])
    assert events[-2].data["citations"] == done["citations"]


def test_openai_mode_needs_a_model_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="POLICYQA_LLM_MODEL"):
        load_generator(make_settings(tmp_path, answer_mode="openai", llm_base_url="http://127.0.0.1:9/v1"))


def test_extractive_mode_has_no_generator(tmp_path: Path) -> None:
    assert load_generator(make_settings(tmp_path)) is None



@pytest.mark.slow
@pytest.mark.parametrize("streaming", [False, True])
def test_sentence_cut_by_the_token_limit_is_dropped(streaming: bool, corpus_engine: Any, llm: FakeLLM,
                                                    tmp_path: Path) -> None:
    llm.behaviour = "length"
    gen = _generator(tmp_path, llm.base_url)
    if streaming:
        done = list(answer_events(QUESTION, engine=corpus_engine, generator=gen))[-1].data
        text, citations = done["answer"], done["citations"]
    else:
        ans = answer(QUESTION, engine=corpus_engine, generator=gen)
        text, citations = ans.text, ans.citations
    assert "24/6/2024" in text and "năm thứ hai" not in text and len(citations) == 1

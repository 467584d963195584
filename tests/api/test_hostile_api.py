"""Hostile questions (huge, control characters, surrogates, mixed scripts): a 4xx problem or an answer, never 5xx."""

from __future__ import annotations

import json
import unicodedata
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from api.app import create_app
from tests.api.test_api import parse_sse

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}

HOSTILE_QUESTIONS = {
    "100k ascii": "a" * 100_000,
    "100k vietnamese": "Điều khoản thi hành " * 5_000,
    "100k emoji": "😀" * 100_000,  # 1.2 MB once JSON-escaped: over the body limit
    "nul": "Điều 5\x00 là gì?",
    "only nul": "\x00",
    "escape sequence": "\x1b[31mĐiều 5\x1b[0m\x07\x08",
    "bidi override": "\u202eĐiều 5 là gì?\u202c",
    "bom and zero width": "\ufeff\u200b\u200d\u2060Điều 5",
    "only zero width": "\u200b\ufeff\u2060",
    "only combining marks": "\u0301" * 500,
    "line separators": "Điều 5\u2028\u2029\x85\r\n\t\x0b\x0c?",
    "delete and c1": "\x7f\x80\x9f Điều 5",
    "private use and noncharacters": "\ue000\uffff\U0010ffff Điều 5",
    "mixed scripts": "Quyền con người 人权 حقوق الإنسان 😀 права человека ∑ 𝔘𝔫𝔦 ẞ ß?",
    "nfd vietnamese": unicodedata.normalize("NFD", "Các cơ quan báo chí cần làm gì?"),
    "whitespace only": "   \t\n\u3000  ",
    "punctuation only": "?!.,;:…—«»“”‘’()[]{}<>/\\|@#$%^&*_+=~`",
    "markup": "<script>alert(1)</script> Điều 5 ' OR 1=1 -- {{7*7}} ${jndi:ldap://x}",
    "one char": "?",
    "numbers": "41/2024/QH15 168/2024/NĐ-CP 1/1/1970 9" * 10,
}

# JSON written by hand: string literals no JSON library would produce, then whole odd bodies.
RAW_STRINGS = {
    "escaped lone high surrogate": b'"\\ud800 \\u0110i\\u1ec1u 5"',
    "escaped lone low surrogate": b'"x\\udfff"',
    "escaped reversed pair": b'"\\ude00\\ud83d"',
    "raw surrogate bytes (CESU-8)": b'"\xed\xa0\x80 ok"',
    "invalid utf-8": b'"Quy\xff\xfe \xc3"',
    "overlong utf-8": b'"\xc0\xaf\xe0\x80\xaf"',
    "raw control characters": b'"a\x00b\x1bc\x07"',
    "raw newline": b'"line\nbreak"',
}
RAW_BODIES = {
    "utf-16": '{"question": "Điều 5"}'.encode("utf-16"),
    "utf-8 bom": b'\xef\xbb\xbf{"question": "x"}',
    "escapes of every kind": b'{"question": "\\\\u0000 \\" \\/ \\b\\f\\n\\r\\t \\u0000"}',
    "null question": b'{"question": null}',
    "number question": b'{"question": 5}',
    "deeply nested": b'{"question": "x", "filters": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "duplicate keys": b'{"question": "x", "question": "\\ud800"}',
    "not an object": b'["question"]',
    "truncated": b'{"question": "Di',
}


@pytest.fixture(scope="module")
def client(corpus_engine: Any) -> Iterator[TestClient]:
    # A high rate limit: these tests are about input, not about 429s.
    settings_ = corpus_engine.settings.model_copy(update={"rate_limit_per_minute": 1_000_000})
    with TestClient(create_app(settings_, corpus_engine), raise_server_exceptions=False) as c:
        yield c


def assert_handled(r: Any) -> str:
    """A 4xx problem with a detail, or a normal 200 answer (JSON or a stream without server errors)."""
    assert r.status_code < 500, f"{r.status_code}: {r.text[:500]}"
    assert "Traceback" not in r.text
    if r.status_code >= 400:
        assert r.headers["content-type"] == PROBLEM, r.headers["content-type"]
        body = r.json()
        assert body["status"] == r.status_code and isinstance(body["detail"], str) and body["detail"]
        return "problem"
    assert r.status_code == 200, r.text[:300]
    if r.headers["content-type"].startswith("text/event-stream"):
        events = parse_sse(r.text)
        errors = [d for e, d in events if e == "error" or (isinstance(d, dict) and "error" in d)]
        assert not errors, errors
        assert events[-1][0] == "done" or events[-1][1] == "[DONE]", events[-3:]
        return "stream"
    body = r.json()
    assert isinstance(body.get("answer", body.get("choices", body.get("hits"))), str | list), body
    return "json"


def _ask(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/v1/ask", content=json.dumps(body).encode(), headers=JSON)


def _chat(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/v1/chat/completions", content=json.dumps(body).encode(), headers=JSON)


def _search(client: TestClient, q: str) -> Any:
    # Percent-encoded by hand: httpx refuses surrogates and very long query strings.
    return client.get("/v1/search?q=" + urllib.parse.quote(q.encode("utf-8", "surrogatepass"), safe=""))


@pytest.mark.parametrize("label", list(HOSTILE_QUESTIONS))
def test_hostile_question_on_every_route(client: TestClient, label: str) -> None:
    q = HOSTILE_QUESTIONS[label]
    ask = _ask(client, {"question": q})
    chat = _chat(client, {"messages": [{"role": "user", "content": q}]})
    outcomes = {
        "ask": assert_handled(ask),
        "ask stream": assert_handled(_ask(client, {"question": q, "stream": True})),
        "ask history": assert_handled(_ask(client, {"question": "Điều 5 là gì?", "history": [
            {"role": "user", "content": q}, {"role": "assistant", "content": q}]})),
        "chat": assert_handled(chat),
        "chat parts": assert_handled(_chat(client, {"messages": [
            {"role": "user", "content": [{"type": "text", "text": q}]}]})),
        "chat stream": assert_handled(_chat(client, {"stream": True, "messages": [
            {"role": "system", "content": q}, {"role": "user", "content": q}, {"role": "assistant", "content": q},
            {"role": "user", "content": "Điều 5 là gì?"}]})),
    }
    if len(q) < 20_000:  # longer ones do not fit a URL (servers answer 414/431 before the app sees them)
        outcomes["search"] = assert_handled(_search(client, q))
    if len(q) > 8_000:
        assert ask.status_code in (413, 422) and chat.status_code in (413, 422), (ask.text, chat.text)
    if label == "whitespace only":
        assert ask.status_code == chat.status_code == 422
    if label in ("mixed scripts", "punctuation only", "nfd vietnamese", "bidi override", "nul", "markup"):
        assert outcomes["ask"] == outcomes["chat"] == "json", outcomes


def test_long_question_details_name_the_limit(client: TestClient) -> None:
    r = _ask(client, {"question": "a" * 100_000})
    assert r.status_code == 422 and "body.question" in r.json()["detail"]
    r = _ask(client, {"question": "😀" * 100_000})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    r = _ask(client, {"question": "a" * 2_001})  # the configured limit, below the schema's ceiling
    assert r.status_code == 422 and "POLICYQA_MAX_QUESTION_CHARS" in r.json()["detail"]


@pytest.mark.parametrize("label", list(RAW_STRINGS))
def test_hand_written_json_strings(client: TestClient, label: str) -> None:
    lit = RAW_STRINGS[label]
    bodies = {
        "/v1/ask": b'{"question": ' + lit + b"}",
        "/v1/ask history": b'{"question": "x", "history": [{"role": "user", "content": ' + lit + b"}]}",
        "/v1/chat/completions": b'{"messages": [{"role": "user", "content": ' + lit + b"}]}",
    }
    for where, body in bodies.items():
        r = client.post(where.split()[0], content=body, headers=JSON)
        assert_handled(r)
        assert r.status_code in (400, 422), (where, r.status_code, r.text[:300])


@pytest.mark.parametrize("label", list(RAW_BODIES))
def test_hand_written_json_bodies(client: TestClient, label: str) -> None:
    assert_handled(client.post("/v1/ask", content=RAW_BODIES[label], headers=JSON))


# ---- fuzz ----------------------------------------------------------------------------------------

HOSTILE_CHARS = ["\ud800", "\udbff", "\udc00", "\udfff", "\x00", "\x1b", "\x07", "\x7f", "\x85", "\u202e",
                 "\u2066", "\ufeff", "\u200b", "\u0301", "\u00ad", "\ufffd", "\uffff", "\U0001f600", "人", "ح",
                 "ж", "Đ", "ệ", '"', "\\", "\n", " ", "/", "[1]", "Điều 5", "?"]
hostile_text = st.lists(st.one_of(st.characters(exclude_categories=()), st.sampled_from(HOSTILE_CHARS)),
                        max_size=80).map("".join)


def _json_string(text: str, how: str) -> bytes:
    """`text` as a JSON string literal: escaped by json.dumps, or with raw bytes (surrogates, controls) left in."""
    if how == "escaped":
        return json.dumps(text).encode()
    if how == "raw utf-8":
        return json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8", "surrogatepass") + b'"'


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=hostile_text, how=st.sampled_from(["escaped", "raw utf-8", "raw everything"]),
       route=st.sampled_from(["ask", "ask stream", "ask history", "chat", "chat stream", "search"]))
def test_random_unicode_never_gives_5xx(client: TestClient, text: str, how: str, route: str) -> None:
    s = _json_string(text, how)
    note(f"{route}, {how}: {s[:200]!r}")
    if route == "search":
        r = _search(client, text)
    elif route.startswith("ask"):
        body = b'{"question": ' + s + (b', "stream": true' if route == "ask stream" else b"") + b"}"
        if route == "ask history":
            body = b'{"question": "\\u0110i\\u1ec1u 5?", "history": [{"role": "user", "content": ' + s + b"}]}"
        r = client.post("/v1/ask", content=body, headers=JSON)
    else:
        body = b'{"messages": [{"role": "user", "content": ' + s + b"}]" + (
            b', "stream": true' if route == "chat stream" else b"") + b"}"
        r = client.post("/v1/chat/completions", content=body, headers=JSON)
    event(f"{route}: {r.status_code} {assert_handled(r)}")

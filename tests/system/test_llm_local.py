"""A real local LLM end to end: Gemma 3 270M (GGUF, shipped as a PyPI package) run by llama-cpp-python.

Both ways a deployment can run it: in-process (`llamacpp` mode) and behind llama-cpp-python's own
OpenAI-compatible server (`openai` mode). The tiny model answers poorly, so these tests prove the path —
a verified answer or an abstention, never an exception — not the quality.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.answer.entry import answer
from rag.answer.events import answer_events
from rag.llm.generators import LlamaCppGenerator, OpenAIGenerator
from rag.llm.loading import bundled_gguf, load_generator
from tests.conftest import make_settings
from tests.servers import free_port, running

# Only looked up, not imported: OpenMP settings are read when llama_cpp (or torch) first loads
# (see the root callback in policyqa/cli.py).
if importlib.util.find_spec("llama_cpp") is None:
    pytest.skip("needs the llamacpp extra: pip install '.[llamacpp]'", allow_module_level=True)
pytestmark = pytest.mark.slow

QUESTION = "Báo cáo buôn người năm 2023 của Mỹ được công bố ngày nào?"
# Small prompt and reply keep each answer to seconds on a 2-core CPU.
LIMITS: dict[str, object] = {"top_k": 3, "llm_max_tokens": 64, "llm_context_tokens": 4096}


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundled_gguf(make_settings(tmp_path_factory.mktemp("gguf")).model_cache_dir)


def _check(ans: Any, mode: str, engine: Any) -> None:
    """A verified answer or an abstention, produced by the model (no fallback warning)."""
    assert ans.mode == mode and ans.warnings == ()
    if ans.abstained:
        assert ans.citations == () and ans.related
        return
    assert ans.citations and ans.text
    for c in ans.citations:
        assert engine.store.snapshot.docs[c.doc_id].text[c.start:c.end] == c.quote
        assert f"[{c.n}]" in ans.text


def _check_events(events: list[Any], mode: str) -> dict[str, Any]:
    types = [e.type for e in events]
    assert "error" not in types and types[-1] == "done"
    done: dict[str, Any] = events[-1].data
    assert done["mode"] == mode and done["warnings"] == []
    # Only verified text is streamed: the tokens add up to the final answer (or to the abstention).
    assert "".join(e.data["text"] for e in events if e.type == "token") == done["answer"]
    return done


@pytest.fixture(scope="module")
def local_generator(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> LlamaCppGenerator:
    settings = make_settings(tmp_path_factory.mktemp("llamacpp"), answer_mode="llamacpp", **LIMITS)
    gen = load_generator(settings)  # no GGUF path configured: the bundled demo model
    assert isinstance(gen, LlamaCppGenerator) and gen.fold_system  # gemma has no system role
    return gen


def test_llamacpp_mode_answers_or_abstains(corpus_engine: Any, local_generator: LlamaCppGenerator) -> None:
    t0 = time.perf_counter()
    ans = answer(QUESTION, engine=corpus_engine, generator=local_generator, top_k=3)
    print(f"llamacpp answer in {time.perf_counter() - t0:.1f}s: {ans.timings}")
    _check(ans, "llamacpp", corpus_engine)


def test_llamacpp_mode_streams_tokens(corpus_engine: Any, local_generator: LlamaCppGenerator) -> None:
    events = list(answer_events(QUESTION, engine=corpus_engine, generator=local_generator, top_k=3))
    _check_events(events, "llamacpp")


def test_open_engine_loads_the_configured_gguf_once(gguf: Path, engine_factory: Any) -> None:
    engine = engine_factory("llm", answer_mode="llamacpp", llm_gguf_path=gguf, llm_chat_format="gemma",
                            **LIMITS)
    assert isinstance(engine.generator, LlamaCppGenerator)
    assert engine.generator.llama.chat_format == "gemma" and engine.generator.max_tokens == 64


def test_llamacpp_mode_with_a_missing_file_fails_fast(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, answer_mode="llamacpp", llm_gguf_path=tmp_path / "nope.gguf")
    with pytest.raises(ValueError, match="not a file"):
        load_generator(settings)


# ---- llama-cpp-python's OpenAI-compatible server ---------------------------------------------------------


@pytest.fixture(scope="module")
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a loopback port, as the README tells deployments to run it."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
           "--port", str(port), "--chat_format", "gemma", "--n_ctx", "4096",
           "--n_threads", str(os.cpu_count() or 1)]
    base = f"http://127.0.0.1:{port}/v1"
    with running(cmd, ready_url=f"{base}/models", log_path=log, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
                 timeout_s=180):
        yield base


@pytest.fixture(scope="module")
def server_generator(llama_server: str, tmp_path_factory: pytest.TempPathFactory) -> OpenAIGenerator:
    settings = make_settings(tmp_path_factory.mktemp("openai"), answer_mode="openai",
                             llm_base_url=llama_server, llm_model="gemma-3-270m", llm_fold_system=True,
                             llm_timeout_s=300.0, **LIMITS)
    gen = load_generator(settings)
    assert isinstance(gen, OpenAIGenerator)
    return gen


def test_openai_mode_against_llama_cpp_server(corpus_engine: Any, server_generator: OpenAIGenerator) -> None:
    t0 = time.perf_counter()
    ans = answer(QUESTION, engine=corpus_engine, generator=server_generator, top_k=3)
    print(f"openai-mode answer in {time.perf_counter() - t0:.1f}s: {ans.timings}")
    _check(ans, "openai", corpus_engine)


def test_openai_mode_streams_from_llama_cpp_server(corpus_engine: Any,
                                                   server_generator: OpenAIGenerator) -> None:
    events = list(answer_events(QUESTION, engine=corpus_engine, generator=server_generator, top_k=3))
    _check_events(events, "openai")


def test_server_honours_the_token_limit(llama_server: str, server_generator: OpenAIGenerator) -> None:
    reply = server_generator.chat.invoke([{"role": "user", "content": "Đếm từ 1 đến 500, mỗi số một dòng."}])
    assert reply.response_metadata.get("finish_reason") == "length"
    assert reply.usage_metadata["output_tokens"] <= 64


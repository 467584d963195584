"""LLM answer generators: any OpenAI-compatible endpoint (LangChain's ChatOpenAI) or a local GGUF model.

A generator turns the question and the numbered sources (rag.llm.prompt) into a draft with [n] markers;
rag.answer.entry runs the same verifier on it as on the extractive draft. `generate` returns the finished draft
(cleaned, recited prompt text pruned, missing markers attached: rag.llm.draft); `stream` yields the raw tokens
as they arrive and returns the same finished draft (`draft = yield from g.stream(...)`); `stream_verified` turns
that into a stream of verified text only. Failures raise; the caller degrades to the extractive answer.
Building the configured generator (and loading a local model) is rag.llm.loading.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol

from rag.answer.verify import Source
from rag.llm.draft import drop_unfinished, finish_draft
from rag.llm.prompt import build_messages, fold_system, scaffolding
from rag.query import QueryInfo


class LLMError(RuntimeError):
    """The model answered with something unusable (no text, wrong shape)."""


class AnswerGenerator(Protocol):
    """What rag.answer.entry needs from an LLM: a mode name, a finished draft, or the draft streamed."""

    mode: str

    def generate(self, info: QueryInfo, sources: Sequence[Source]) -> str: ...

    def stream(self, info: QueryInfo, sources: Sequence[Source]) -> Generator[str, None, str]: ...

    def finish(self, raw: str, info: QueryInfo, sources: Sequence[Source], truncated: bool = False) -> str: ...


def _text_of(content: Any) -> str:
    """Text of a chat message's content (a string, or a list of content blocks); LLMError when none."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content
                       if isinstance(b, str | dict))
    else:
        raise LLMError(f"unexpected response content of type {type(content).__name__}")
    if not text.strip():
        raise LLMError("the model returned no text")
    return text


# ---- generators ---------------------------------------------------------------------------------------


class _Prompted:
    """What both generators share: the messages sent, and turning the reply into a verifiable draft."""

    max_sentences: int
    fold_system: bool

    def messages(self, info: QueryInfo, sources: Sequence[Source]) -> list[dict[str, str]]:
        """The chat messages sent for this question (see rag.llm.prompt)."""
        messages = build_messages(info, sources, self.max_sentences)
        return fold_system(messages) if self.fold_system else messages

    def finish(self, raw: str, info: QueryInfo, sources: Sequence[Source], truncated: bool = False) -> str:
        """The reply as a draft for the verifier (recited prompt text pruned, markers attached).

        `truncated`: the reply hit the token limit, so its last sentence is cut off and goes (a fragment
        of a passage would otherwise verify as an exact quote).
        """
        text = drop_unfinished(raw) if truncated else raw
        return finish_draft(text, sources, echo=scaffolding(info.language, sources, self.max_sentences))


class OpenAIGenerator(_Prompted):
    """Any OpenAI-compatible endpoint via a LangChain chat model (vLLM, Ollama, llama.cpp server…)."""

    mode = "openai"

    def __init__(self, chat: Any, *, max_sentences: int = 6, fold_system: bool = False) -> None:
        self.chat = chat  # a langchain_core BaseChatModel; ChatOpenAI in production
        self.max_sentences = max_sentences
        self.fold_system = fold_system

    def generate(self, info: QueryInfo, sources: Sequence[Source]) -> str:
        """The whole answer in one request, cleaned and marked for the verifier."""
        message = self.chat.invoke(self.messages(info, sources))
        truncated = (getattr(message, "response_metadata", None) or {}).get("finish_reason") == "length"
        return self.finish(_text_of(getattr(message, "content", None)), info, sources, truncated)

    def stream(self, info: QueryInfo, sources: Sequence[Source]) -> Generator[str, None, str]:
        """Yield tokens as the endpoint sends them; return the finished draft."""
        parts: list[str] = []
        reason = None
        for chunk in self.chat.stream(self.messages(info, sources)):
            content = getattr(chunk, "content", None)
            piece = content if isinstance(content, str) else (_text_of(content) if content else "")
            reason = (getattr(chunk, "response_metadata", None) or {}).get("finish_reason") or reason
            if piece:
                parts.append(piece)
                yield piece
        if not reason:  # the connection closed mid-answer: no finish_reason ever came
            raise LLMError("the stream ended before the model finished its answer")
        return self.finish(_text_of("".join(parts)), info, sources, truncated=reason == "length")


class LlamaCppGenerator(_Prompted):
    """A local GGUF model run in-process by llama-cpp-python (one model, one request at a time)."""

    mode = "llamacpp"

    def __init__(self, llama: Any, *, max_tokens: int = 512, temperature: float = 0.0,
                 max_sentences: int = 6, fold_system: bool = False) -> None:
        self.llama = llama  # a loaded llama_cpp.Llama
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.max_sentences = max_sentences
        # llama-cpp-python's "gemma" format silently drops system messages: fold them into the user turn.
        self.fold_system = fold_system or getattr(llama, "chat_format", None) == "gemma"
        self._lock = threading.Lock()  # a Llama context is not safe to share between threads

    def _completion(self, info: QueryInfo, sources: Sequence[Source], stream: bool) -> Any:
        return self.llama.create_chat_completion(
            messages=self.messages(info, sources), max_tokens=self.max_tokens,
            temperature=self.temperature, stream=stream)

    def generate(self, info: QueryInfo, sources: Sequence[Source]) -> str:
        """The whole answer at once, cleaned and marked for the verifier."""
        with self._lock:
            out = self._completion(info, sources, stream=False)
        try:
            choice = out["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"malformed llama.cpp response: {exc!r}") from exc
        return self.finish(_text_of(content), info, sources, truncated=choice.get("finish_reason") == "length")

    def stream(self, info: QueryInfo, sources: Sequence[Source]) -> Generator[str, None, str]:
        """Yield tokens as they are decoded; return the finished draft."""
        parts: list[str] = []
        reason = None
        with self._lock:  # held until the stream ends or the consumer closes it
            for chunk in self._completion(info, sources, stream=True):
                choice = (chunk.get("choices") or [{}])[0]
                reason = choice.get("finish_reason") or reason
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece:
                    parts.append(piece)
                    yield piece
        return self.finish(_text_of("".join(parts)), info, sources, truncated=reason == "length")


# ---- streaming only what the verifier keeps ------------------------------------------------------------

_RAW_CUT = re.compile(r"(?<=[.!?])(?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s+[A-ZÀ-Ỹ])|\n(?=\s*\S)")


def stream_verified(generator: AnswerGenerator, info: QueryInfo, sources: Sequence[Source],
                    check: Callable[[str], str]) -> Generator[str, None, str]:
    """Stream the model's answer sentence by sentence, yielding only text the verifier keeps.

    Each time the model starts a new sentence, the draft so far is finished and passed to `check` (the
    verifier: the verified text, "" when nothing is supported); what the verified text adds to what was
    already sent is yielded. Returns the finished draft, as `generator.stream` does. Should a later
    sentence ever change what was already sent, nothing more is yielded: the caller's final answer holds.
    """
    raw, sent, cut, diverged = "", "", 0, False
    tokens = generator.stream(info, sources)
    while True:
        try:
            raw += next(tokens)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        ends = [m.end() for m in _RAW_CUT.finditer(raw, cut)]
        if diverged or not ends:
            continue
        cut = ends[-1]
        text = check(generator.finish(raw[:cut], info, sources))
        if not text.startswith(sent):
            diverged = True
        elif len(text) > len(sent):
            yield text[len(sent):]
            sent = text

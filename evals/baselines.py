"""Baselines measured in the same run: BM25 alone, dense alone, and the usual LangChain recipe."""

from __future__ import annotations

import bisect
import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.relevance import Passage, chunk_passage
from rag.answer.entry import search as search_question
from rag.records import Hit
from rag.retrieve import search

log = logging.getLogger(__name__)

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200  # the defaults every LangChain tutorial uses
_ARTICLE = re.compile(r"^[ \t]*Điều[ \t]+(\d+[a-zđ]?)[ \t]*[.:]", re.MULTILINE)


@dataclass(frozen=True)
class RawDoc:
    """One source text as the LangChain recipe sees it (no parsing, no normalisation)."""

    key: str  # stored in each chunk's metadata; maps a chunk back to its document
    text: str
    names: tuple[str, ...]  # document id, title, số hiệu, for relevance


def article_starts(text: str) -> list[tuple[int, str]]:
    """Offsets and numbers of the "Điều N." headings at line start (the text is expected in NFC)."""
    return [(m.start(), m.group(1)) for m in _ARTICLE.finditer(text)]


def article_at(starts: list[tuple[int, str]], pos: int) -> str | None:
    """The Điều whose heading is the last one at or before pos (None before the first heading)."""
    i = bisect.bisect_right([s for s, _ in starts], pos) - 1
    return starts[i][1] if i >= 0 else None


def hit_passages(engine: Any, hits: list[Hit]) -> list[Passage]:
    """Hits of our retriever as Passages, with their documents' metadata."""
    docs = engine.store.snapshot.docs
    return [chunk_passage(h.chunk, docs[h.chunk.doc_id].meta if h.chunk.doc_id in docs else None)
            for h in hits]


def search_passages(engine: Any, query: str, k: int, mode: str) -> list[Passage]:
    """Our retriever in one mode ("hybrid", "dense" or "lexical") as Passages."""

    return hit_passages(engine, search(engine, query, k=k, mode=mode))  # type: ignore[arg-type]


def query_passages(engine: Any, query: str, k: int) -> list[Passage]:
    """Our full retrieval path (question understanding, fast path, hybrid search) as Passages."""

    return hit_passages(engine, search_question(query, engine=engine, k=k).hits)


def split_raw(docs: list[RawDoc]) -> list[Any]:
    """RecursiveCharacterTextSplitter(1000, 200, add_start_index=True) over each raw text."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP,
                                              add_start_index=True)
    return splitter.create_documents([d.text for d in docs], metadatas=[{"source": d.key} for d in docs])


@dataclass
class LangChainIndex:
    """A LangChain Chroma vector store over the raw splits, plus what maps a chunk back to its unit."""

    store: Any  # langchain_chroma.Chroma
    docs: dict[str, RawDoc]
    starts: dict[str, list[tuple[int, str]]]
    chunks: int
    seconds: float = 0.0


def open_langchain_index(folder: Path, embedder: Any, docs: list[RawDoc], *,
                         batch: int = 256) -> LangChainIndex:
    """Open the recipe's Chroma store in folder, building it first when absent or incomplete."""
    import time

    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma

    marker = folder / "complete.json"
    splits = split_raw(docs)
    done = marker.exists() and json.loads(marker.read_text(encoding="utf-8")).get("chunks") == len(splits)
    if not done:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(path=str(folder / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    store = Chroma(client=client, collection_name="langchain-baseline", embedding_function=embedder,
                   collection_metadata={"hnsw:space": "cosine"})
    started = time.perf_counter()
    if not done:
        log.info("building the LangChain baseline index: %d chunks", len(splits))
        for i in range(0, len(splits), batch):
            part = splits[i:i + batch]
            store.add_texts([d.page_content for d in part], metadatas=[d.metadata for d in part],
                            ids=[f"{j:07d}" for j in range(i, i + len(part))])
        marker.write_text(json.dumps({"chunks": len(splits)}), encoding="utf-8")
    return LangChainIndex(store=store, docs={d.key: d for d in docs},
                          starts={d.key: article_starts(d.text) for d in docs}, chunks=len(splits),
                          seconds=time.perf_counter() - started)


def langchain_passages(index: LangChainIndex, query: str, k: int) -> list[Passage]:
    """Chroma similarity_search(query, k) mapped to Passages (article = the Điều holding the chunk start)."""
    out = []
    for doc in index.store.similarity_search(query, k=k):
        key, start = doc.metadata["source"], int(doc.metadata["start_index"])
        raw = index.docs[key]
        out.append(Passage(text=doc.page_content, doc_names=raw.names,
                           article=article_at(index.starts[key], start), key=f"{key}@{start}"))
    return out

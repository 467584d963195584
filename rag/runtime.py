"""Wiring: the loaded embedder plus the store, built once per process and passed to everything else."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import IO, Any, Protocol

import numpy as np

from rag.access import Access
from rag.llm.generators import AnswerGenerator
from rag.llm.loading import load_generator
from rag.settings import Settings
from rag.store.locks import claim_embedded_store
from rag.store.manifest_chroma import ChromaDocStore
from rag.store.manifest_sqlite import DocStore, SqliteDocStore
from rag.store.scope import ScopedStore
from rag.store.store import Store
from rag.store.vectors import VectorStore, make_client

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the store and retrieval need from an embedder (rag.embed.embedders and the tests' wrappers)."""

    @property
    def model_id(self) -> str: ...

    def embed_documents_np(self, texts: list[str]) -> np.ndarray: ...

    def embed_query_np(self, text: str) -> np.ndarray: ...


@dataclass
class Runtime:
    """Everything a question needs: settings, the embedder and the store."""

    settings: Settings
    embedder: Embedder
    store: Store
    generator: AnswerGenerator | None = None  # an LLM answer generator; None = extractive answers
    owner_lock: IO[str] | None = None  # held while this process owns an embedded store

    def scoped(self, access: Access) -> Runtime:
        """This engine as `access` sees it: admins get it whole; a reader gets a view whose store shows only
        the documents in its audience (rag.store.scope), for every question, search and listing."""
        if access.admin:
            return self
        return replace(self, store=ScopedStore(self.store, access), owner_lock=None)  # type: ignore[arg-type]

    def close(self) -> None:
        self.store.docstore.close()
        if self.owner_lock is not None:
            self.owner_lock.close()  # releases the flock
            self.owner_lock = None


def load_embedder(settings: Settings) -> Embedder:
    """The configured embedder (bundled multilingual-e5-small unless configured otherwise)."""
    from rag.embed.embedders import load_embeddings  # deferred: loads torch and sentence-transformers

    return load_embeddings(settings)


def open_runtime(settings: Settings, embedder: Embedder | None = None, client: Any | None = None,
                generator: AnswerGenerator | None = None) -> Runtime:
    """Open (or create) the store under settings.data_dir with the given or configured embedder."""
    embedder = embedder if embedder is not None else load_embedder(settings)
    owner = None if settings.chroma_host else claim_embedded_store(settings.data_dir)
    try:
        client = client if client is not None else make_client(settings)
        vectors = VectorStore(client, settings.collection, embedder.model_id, ef_search=settings.dense_ef_search)
        # With a Chroma server the manifest lives there too, so API processes on other hosts read the same one.
        docstore: DocStore = (ChromaDocStore(client, f"{settings.collection}-manifest") if settings.chroma_host
                              else SqliteDocStore(settings.docstore_path))
        # The LLM (a local GGUF model in llamacpp mode) is loaded here, once per engine; None = extractive.
        generator = generator if generator is not None else load_generator(settings)
        return Runtime(settings=settings, embedder=embedder, store=Store(settings, docstore, vectors, embedder),
                      generator=generator, owner_lock=owner)
    except BaseException:
        if owner is not None:
            owner.close()
        raise

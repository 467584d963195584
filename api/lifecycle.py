"""Load the embedder and open the store once per process; reopen the store later if it was down at start."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from rag.runtime import Runtime, load_embedder, open_runtime
from rag.settings import Settings
from rag.store.lexical import analyze
from rag.store.vectors import EmbeddingMismatch, StoreUnavailable

log = logging.getLogger(__name__)

REOPEN_INTERVAL_S = 5.0


class EngineSlot:
    """Holds the engine; when the store could not be opened, retries at most every REOPEN_INTERVAL_S."""

    def __init__(self, settings: Settings, engine: Runtime | None = None, embedder: Any | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.embedder = embedder if embedder is not None else getattr(engine, "embedder", None)
        self.error: Exception | None = None
        self._last_try = 0.0
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Try to open the store with the loaded embedder; remember the error instead of raising."""
        self._last_try = time.monotonic()
        try:
            self.engine = await run_in_threadpool(open_runtime, self.settings, self.embedder)
            self.error = None
        except (StoreUnavailable, EmbeddingMismatch) as exc:
            log.error("store not available: %s", exc)
            self.error = exc

    async def get(self) -> Runtime:
        """The engine, or the store error (translated to 503 by the error handlers)."""
        if self.engine is not None:
            return self.engine
        async with self._lock:
            if self.engine is None and time.monotonic() - self._last_try >= REOPEN_INTERVAL_S:
                await self.open()
        if self.engine is not None:
            return self.engine
        raise self.error or StoreUnavailable("the store is not open yet")


async def follow_writes(slot: EngineSlot, interval_s: float) -> None:
    """Reload the snapshot when another process (an API worker, `policyqa ingest`) changed the store.

    An upload through one worker is visible to the others within interval_s plus the reload time. While the
    store is down the old snapshot stays; asks fail with 503 on their own Chroma query."""
    failing = False
    while True:
        await asyncio.sleep(interval_s)
        engine = slot.engine
        if engine is None:
            continue
        try:
            if await run_in_threadpool(engine.store.refresh):
                log.info("store changed elsewhere: snapshot reloaded (%d documents)", len(engine.store.snapshot.docs))
            failing = False
        except StoreUnavailable as exc:
            if not failing:
                log.warning("cannot check the store for changes: %s", exc)
            failing = True
        except Exception:  # never let the follower die: the next tick tries again
            log.exception("reloading the snapshot failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open what the app needs once; close only what it opened itself (tests inject their engine)."""
    slot: EngineSlot = app.state.engine_slot
    owned = slot.engine is None
    if owned:
        if slot.embedder is None:
            log.info("loading embedder %s", slot.settings.embedding_model)
            slot.embedder = await run_in_threadpool(load_embedder, slot.settings)
        await run_in_threadpool(analyze, "khởi động")  # load the word segmenter now, not on the first ask
        await slot.open()
    app.state.engine = slot.engine
    # Only a Chroma server has other writers to follow: an embedded store belongs to this process alone.
    follower = (asyncio.create_task(follow_writes(slot, slot.settings.sync_interval_s))
                if slot.settings.chroma_host else None)
    try:
        yield
    finally:
        if follower is not None:
            follower.cancel()
        for name in ("audit", "conversations"):
            opened = getattr(app.state, name, None)
            if opened is not None:
                opened.close()
        if owned and slot.engine is not None:
            slot.engine.close()

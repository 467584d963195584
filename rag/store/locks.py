"""File locks (flock) shared by every process on one host: the writer lock and the embedded store's owner."""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rag.store.vectors import StoreBusy, StoreUnavailable


@contextmanager
def process_lock(path: Path, timeout_s: float) -> Iterator[None]:
    """An exclusive lock on a file, shared by every process on this host; StoreBusy after timeout_s."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusy(f"another process is writing to the store (lock {path}); "
                                    f"waited {timeout_s:.0f}s") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def claim_embedded_store(data_dir: Path) -> IO[str]:
    """Own the embedded store in data_dir for as long as the returned file stays open.

    Embedded Chroma keeps its index in the memory of the process that opened it: a second process (an
    ingest beside a running server) would write vectors the first never searches. Refuse it, naming the
    holder, instead of serving half of what was ingested."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "embedded.lock"
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreUnavailable(
            f"the embedded store in {data_dir} is open in {holder}. Embedded Chroma serves one process: add "
            f"documents through that server's API (POST /v1/documents), stop it first, or run a Chroma server "
            f"(POLICYQA_CHROMA_HOST) for several processes") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} ({' '.join(os.path.basename(a) for a in sys.argv[:3])})")
    handle.flush()
    return handle

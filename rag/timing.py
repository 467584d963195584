"""Where ingest time goes: seconds per stage (load, parse, chunk, embed, segment, write, index) in one run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STAGES", "StageClock"]

# load: read and extract the file (sandboxed); parse: header and structure; chunk: units along the structure;
# embed: passage vectors; segment: Vietnamese word segmentation for the lexical index; write: vectors and
# records into the stores; index: publishing the new snapshot (BM25 index, lookups) when the write ends.
STAGES = ("load", "parse", "chunk", "embed", "segment", "write", "index")


class StageClock:
    """Accumulates wall time per stage; owned by one ingest run."""

    def __init__(self) -> None:
        self._seconds = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block and add it to `name`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        """Add time measured elsewhere (a block that cannot be a `with` here)."""
        if name not in self._seconds:
            raise ValueError(f"unknown ingest stage {name!r}; expected one of {STAGES}")
        self._seconds[name] += seconds

    def totals(self) -> tuple[tuple[str, float], ...]:
        """(stage, seconds) in pipeline order."""
        return tuple(self._seconds.items())

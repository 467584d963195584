"""A reader's view of a snapshot: only the documents its access may read, the rest as if never ingested.

Everything downstream (both retrievers, the exact-reference path, validity between texts, document lists)
reads the view, so nothing outside it can be ranked, quoted or named. The lexical index is shared with the
full snapshot and masked by `scope` inside the retriever; the dense retriever sends `scope` to Chroma as its
`where` filter. Views are cached on the snapshot they were cut from (one per distinct access).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from rag.access import Access, can_read
from rag.store.store import Snapshot, Store

MAX_VIEWS = 256  # distinct accesses cached per snapshot


def scoped(snapshot: Snapshot, access: Access) -> Snapshot:
    """The part of `snapshot` that `access` may read (the snapshot itself for admins or when it is all)."""
    if access.admin:
        return snapshot
    views: dict[str, Snapshot] = snapshot.derived.setdefault("views", {})
    view = views.get(access.key)
    if view is not None:
        return view
    base = snapshot.scope
    allowed = frozenset(d for d, doc in snapshot.docs.items()
                        if (base is None or d in base) and can_read(access, doc.meta.audience))
    if base is None and len(allowed) == len(snapshot.docs):
        view = snapshot
    else:
        order = tuple(c for c in snapshot.order if snapshot.chunks[c].doc_id in allowed)
        view = replace(snapshot, docs={d: snapshot.docs[d] for d in allowed},
                       chunks={c: snapshot.chunks[c] for c in order}, order=order,
                       by_doc={d: ids for d, ids in snapshot.by_doc.items() if d in allowed},
                       derived={}, scope=allowed)
    if len(views) >= MAX_VIEWS:
        views.clear()
    views[access.key] = view
    return view


class ScopedStore:
    """The reading side of a Store, seen through an access: `snapshot` is the reader's view. It has no
    writing methods, so a reader's engine cannot change the store by mistake."""

    def __init__(self, store: Store, access: Access) -> None:
        self._store = store
        self.access = access
        self.settings = store.settings
        self.vectors = store.vectors

    @property
    def snapshot(self) -> Snapshot:
        return scoped(self._store.snapshot, self.access)

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        with self._store.reading() as snapshot:
            yield scoped(snapshot, self.access)

    def counts(self) -> tuple[int, int]:
        snap = self.snapshot
        return len(snap.docs), len(snap.order)

"""Ingest files or uploads: load → normalise/parse → chunk → store, with a report of what happened."""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from ingest.chunk import chunk_document
from ingest.load import LoadError, LoadLimits, discover, load_bytes, load_file
from ingest.parse.document import parse_document
from rag.access import parse_audience
from rag.records import IngestFailure, IngestReport, SourceDocument
from rag.store.store import Store
from rag.text.normalize import fold_accents
from rag.timing import StageClock

log = logging.getLogger(__name__)

# Bump when parsing or chunking changes, so unchanged files are re-parsed once.
# 2: validity facts in document metadata; 3: pages (and OCR words) of PDF chunks; 4: audiences
PIPELINE_VERSION = "4"

Progress = Callable[[Sequence[object]], Sequence[object]]


def slugify(name: str) -> str:
    """ASCII id from a file name: 'Luật Đường bộ.json' → 'luat-duong-bo'."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold_accents(name)).strip("-")
    return slug[:80] or "document"


def safe_upload_name(name: str) -> str:
    """Keep only the last path component and harmless characters; never used to open files."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f]", "", base).strip(" .") or "upload"
    return base[:120]


def keep_original(store: Store, src: SourceDocument, data: bytes) -> None:
    """Keep the bytes of a paged document (PDF, image) beside the store: its page images are drawn from them."""
    if not src.pages:
        return
    folder = store.settings.originals_dir
    target = folder / src.sha256
    if target.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def _ocr_progress(name: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        log.info("OCR %s: page %d of %d", name, done, total)

    return report


def _unique_id(store: Store, wanted: str, source_key: str) -> str:
    existing = store.docstore.get_document(wanted)
    if existing is None or existing.source_key == source_key:
        return wanted
    return f"{wanted}-{hashlib.sha1(source_key.encode()).hexdigest()[:6]}"


class _Tally:
    def __init__(self, on_embedded: Callable[[int], None] | None = None) -> None:
        self.added = self.updated = self.removed = self.unchanged = 0
        self.failed: list[IngestFailure] = []
        self.ingested: list[str] = []
        self.warnings: list[str] = []
        self.clock = StageClock()
        self.on_embedded = on_embedded


def resolve_audience(declared: str | None, explicit: str | None, previous: str | None,
                     default: str) -> tuple[str, str | None]:
    """Who may read a document being (re-)ingested, and a warning when its front matter's audience is invalid.

    The --audience flag or upload field wins, then the file's front matter, then what the store had (an
    admin's change survives an edit of the file), then the configured default. An invalid front matter value
    is stored as written, which rag.access reads as admins only: a typo never makes a document public."""
    if explicit is not None:
        return explicit, None
    if declared is not None:
        try:
            return parse_audience(declared), None
        except ValueError as exc:
            bad = declared.strip().lower() or "?"
            return bad, f"front matter audience {declared!r} is invalid ({exc}): only admins can read it"
    if previous is not None:
        return previous, None
    return default, None


def _ingest_source(store: Store, src: SourceDocument, *, source_key: str, root: str, wanted_id: str,
                   tally: _Tally, force: bool, audience: str | None = None) -> None:
    existing = store.docstore.find_by_source(source_key)
    if existing and existing.sha256 == src.sha256 and not force:
        tally.unchanged += 1
        if audience is not None and existing.meta.audience != audience:
            store.set_audience(existing.doc_id, audience)
            log.info("%s: audience set to %s", src.path, audience)
            tally.ingested.append(existing.doc_id)
        return
    doc_id = existing.doc_id if existing else _unique_id(store, wanted_id, source_key)
    try:
        with tally.clock.stage("parse"):
            parsed = parse_document(src, doc_id)
            chosen, warning = resolve_audience(parsed.meta.audience, audience,
                                               existing.meta.audience if existing else None,
                                               store.settings.default_audience)
            parsed = replace(parsed, meta=replace(parsed.meta, audience=chosen),
                             warnings=(*parsed.warnings, warning) if warning else parsed.warnings)
        with tally.clock.stage("chunk"):
            chunks = chunk_document(parsed, max_tokens=store.settings.chunk_max_tokens)
    except Exception as exc:  # a parser bug on one file must not stop the others
        log.exception("parsing %s failed", src.path)
        tally.failed.append(IngestFailure(src.path, f"could not parse: {exc.__class__.__name__}: {exc}"))
        return
    if not chunks:
        tally.failed.append(IngestFailure(src.path, "no text to index after parsing"))
        return
    added, removed = store.put(parsed, chunks, source_key=source_key, root=root, clock=tally.clock,
                               on_embedded=tally.on_embedded)
    log.info("%s: committed as %s (%d chunks embedded)", src.path, doc_id, added)
    tally.added += added
    tally.removed += removed
    tally.updated += 1 if existing else 0
    tally.ingested.append(doc_id)
    tally.warnings.extend(f"{doc_id}: {w}" for w in parsed.warnings)
    if src.pages:
        log.info("%s: %d pages, %d by OCR", src.path, len(src.pages), sum(p.ocr for p in src.pages))


def _report(store: Store, tally: _Tally, started: float) -> IngestReport:
    docs, chunks = store.counts()
    return IngestReport(documents=docs, chunks=chunks, added=tally.added, updated=tally.updated,
                        removed=tally.removed, unchanged=tally.unchanged, failed=tuple(tally.failed),
                        ingested=tuple(tally.ingested), warnings=tuple(tally.warnings),
                        seconds=time.perf_counter() - started, stages=tally.clock.totals())


def _pipeline_changed(store: Store) -> bool:
    return store.docstore.get_info("pipeline_version") != PIPELINE_VERSION


def ingest_paths(store: Store, paths: Sequence[Path], *, progress: bool = False,
                 audience: str | None = None) -> IngestReport:
    """Ingest files and folders; files gone from an ingested folder are removed from the store.

    With `progress` (and a terminal on stderr) two bars: files, and chunks embedded as they go."""
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        with tqdm(desc="embed", unit="chunk", position=1, leave=False) as bar, \
                tqdm(desc="OCR", unit="page", position=2, leave=False) as pages:

            def on_page(done: int, total: int) -> None:
                pages.total = total
                pages.n = done
                pages.refresh()

            return _ingest_paths(store, paths, lambda pairs: tqdm(pairs, desc="ingest", unit="file", position=0),
                                 bar.update, on_page, audience)
    return _ingest_paths(store, paths, lambda pairs: pairs, None, audience=audience)


def _ingest_paths(store: Store, paths: Sequence[Path], wrap: Progress,
                  on_embedded: Callable[[int], None] | None,
                  on_page: Callable[[int, int], None] | None = None,
                  audience: str | None = None) -> IngestReport:
    started = time.perf_counter()
    tally = _Tally(on_embedded)
    force = _pipeline_changed(store)
    limits = LoadLimits.from_settings(store.settings)
    pairs = discover(list(paths))
    folder_roots = {str(p.resolve()) for p in paths if p.is_dir()}
    for p in paths:
        if not p.exists():
            tally.failed.append(IngestFailure(str(p), "no such file or folder"))
    seen: set[str] = set()
    with store.writing():
        if force and not store.docstore.documents():
            # A fresh store: whatever gets committed is this pipeline's, so an ingest killed half-way resumes
            # (unchanged documents skipped) instead of re-parsing everything on every re-run.
            store.docstore.set_info("pipeline_version", PIPELINE_VERSION)
            force = False
        for root, file in wrap(pairs):
            source_key = str(file)
            seen.add(source_key)
            root_key = str(root) if str(root) in folder_roots else ""
            try:
                with tally.clock.stage("load"):
                    src = load_file(file, timeout_s=store.settings.parse_timeout_s, limits=limits,
                                    progress=on_page or _ocr_progress(file.name))
                if src.pages:
                    data = file.read_bytes()
                    if hashlib.sha256(data).hexdigest() == src.sha256:  # unchanged since it was loaded
                        keep_original(store, src, data)
            except LoadError as exc:
                tally.failed.append(IngestFailure(str(file), str(exc)))
                continue
            except OSError as exc:
                tally.failed.append(IngestFailure(str(file), f"cannot keep the original: {exc.strerror}"))
                continue
            rel = file.relative_to(root).with_suffix("") if root_key else Path(file.stem)
            _ingest_source(store, src, source_key=source_key, root=root_key, wanted_id=slugify(str(rel)),
                           tally=tally, force=force, audience=audience)
        for root_key in folder_roots:
            for doc_id, source_key in store.docstore.doc_ids_under_root(root_key):
                if source_key not in seen:
                    tally.removed += store.remove(doc_id)
        store.docstore.set_info("pipeline_version", PIPELINE_VERSION)
        publishing = time.perf_counter()
    tally.clock.add("index", time.perf_counter() - publishing)  # the snapshot is published as the write ends
    return _report(store, tally, started)


def ingest_uploads(store: Store, files: Sequence[tuple[str, bytes]], *, audience: str | None = None) -> IngestReport:
    """Ingest uploaded files (name, bytes); a file with the same name replaces the earlier upload.
    `audience` (canonical, rag.access) applies to every file; None = front matter, then the default."""
    started = time.perf_counter()
    tally = _Tally()
    limits = LoadLimits.from_settings(store.settings)
    with store.writing():
        for raw_name, data in files:
            name = safe_upload_name(raw_name)
            try:
                with tally.clock.stage("load"):
                    src = load_bytes(data, name, timeout_s=store.settings.parse_timeout_s, limits=limits,
                                     progress=_ocr_progress(name))
                keep_original(store, src, data)
            except OSError as exc:
                tally.failed.append(IngestFailure(name, f"cannot keep the original: {exc.strerror}"))
                continue
            except LoadError as exc:
                tally.failed.append(IngestFailure(name, str(exc)))
                continue
            _ingest_source(store, src, source_key=f"upload:{name}", root="",
                           wanted_id=slugify(Path(name).stem), tally=tally, force=False, audience=audience)
    return _report(store, tally, started)


def remove_document(store: Store, doc_id: str) -> int:
    """Remove one document by id; returns the number of chunks removed (0 when unknown)."""
    with store.writing():
        return store.remove(doc_id)


def change_audience(store: Store, doc_id: str, audience: str) -> bool:
    """Set who may read one document (canonical rag.access audience); False when it is not stored."""
    with store.writing():
        return store.set_audience(doc_id, audience)

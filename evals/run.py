"""Run a dataset through the answering entry point (and the baselines) on a fresh store; score it."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from evals import metrics as m
from evals.baselines import RawDoc, hit_passages, langchain_passages, open_langchain_index, search_passages
from evals.dataset import EvalItem
from evals.relevance import Passage, chunk_passage, is_relevant
from evals.scans.corpus import scan_corpus
from evals.scans.degrade import Degradation
from ingest.load import LoadError, discover, load_file
from ingest.pipeline import ingest_paths
from rag.answer.entry import answer
from rag.records import Citation, IngestReport
from rag.runtime import open_runtime
from rag.settings import Settings

log = logging.getLogger(__name__)

RANK_DEPTH = 10  # hit@10 and mrr@10 need the top 10


@dataclass(frozen=True)
class Response:
    """What a system returned for one question, in the terms the metrics need."""

    ranking: tuple[Passage, ...]  # retrieval order, best first
    citations: tuple[Passage, ...]  # what the answer cites (a retriever "cites" its top passages)
    abstained: bool = False
    text: str | None = None  # None for retrieval-only systems: no answer to check


@dataclass(frozen=True)
class Outcome:
    """One question scored for one system."""

    id: str
    answerable: bool
    rank: int | None  # first relevant passage in the ranking (1-based), None when absent
    citations: int
    relevant_citations: int
    contains_found: int
    contains_total: int
    abstained: bool
    latency_ms: float
    has_text: bool
    tags: tuple[str, ...] = ()
    top: str = ""  # label of the best-ranked passage, for the report


Ask = Callable[[EvalItem], Response]


@dataclass
class SystemRun:
    name: str
    outcomes: list[Outcome]
    summary: dict[str, object] = field(default_factory=dict)


def score_response(item: EvalItem, response: Response, latency_ms: float) -> Outcome:
    """Judge one response against its dataset item."""
    flags = [is_relevant(p, item) for p in response.ranking[:RANK_DEPTH]]
    relevant_cites = sum(1 for c in response.citations if is_relevant(c, item))
    text = m.norm_match(response.text or "")
    found = sum(1 for s in item.answer_contains if m.norm_match(s) in text)
    top = response.ranking[0] if response.ranking else None
    return Outcome(id=item.id, answerable=item.answerable, rank=m.first_relevant_rank(flags),
                   citations=len(response.citations), relevant_citations=relevant_cites,
                   contains_found=found, contains_total=len(item.answer_contains),
                   abstained=response.abstained, latency_ms=latency_ms, has_text=response.text is not None,
                   tags=item.tags, top=(top.key if top else ""))


def summarize(outcomes: Sequence[Outcome]) -> dict[str, object]:
    """The headline numbers over a set of outcomes (retrieval and citations over answerable questions)."""
    answerable = [o for o in outcomes if o.answerable]
    out: dict[str, object] = {"n": len(outcomes), "answerable": len(answerable)}
    out.update(m.retrieval_summary([o.rank for o in answerable]))
    out["citation_precision"] = m.ratio(sum(o.relevant_citations for o in answerable),
                                        sum(o.citations for o in answerable))
    out["citation_recall"] = m.mean(1.0 if o.relevant_citations else 0.0 for o in answerable)
    with_text = [o for o in outcomes if o.has_text]
    out["answer_contains"] = m.ratio(sum(o.contains_found for o in with_text),
                                     sum(o.contains_total for o in with_text)) if with_text else None
    out.update(m.abstention_scores([o.abstained for o in outcomes], [o.answerable for o in outcomes]))
    latencies = [o.latency_ms for o in outcomes]
    out["latency_ms_p50"] = m.percentile(latencies, 50)
    out["latency_ms_p95"] = m.percentile(latencies, 95)
    return m.rounded(out)


def run_system(name: str, ask: Ask, items: Sequence[EvalItem], *, warmup: bool = True) -> SystemRun:
    """Ask every question in order and time each call (after one untimed warm-up call)."""
    if warmup and items:
        ask(items[0])  # first-call costs (segmenter model, caches) are not what a user waits for
    outcomes = []
    for item in items:
        t0 = time.perf_counter()
        response = ask(item)
        outcomes.append(score_response(item, response, (time.perf_counter() - t0) * 1000))
    return SystemRun(name=name, outcomes=outcomes, summary=summarize(outcomes))


# ---- the systems ---------------------------------------------------------------------------


def citation_passage(engine: Any, citation: Citation) -> Passage:
    """The chunk a citation points to (its quote when the chunk is unknown)."""
    snap = engine.store.snapshot
    chunk = snap.chunks.get(citation.chunk_id)
    if chunk is not None:
        doc = snap.docs.get(chunk.doc_id)
        return chunk_passage(chunk, doc.meta if doc else None)
    return Passage(text=citation.quote, doc_names=(citation.doc_id, citation.title, citation.number or ""),
                   key=citation.chunk_id)


def ours(engine: Any) -> Ask:
    """The one answering entry point the CLI, API and UI share."""

    def ask(item: EvalItem) -> Response:
        ans = answer(item.question, history=item.history, engine=engine, as_of=item.as_of)
        return Response(ranking=tuple(hit_passages(engine, list(ans.hits))),
                        citations=tuple(citation_passage(engine, c) for c in ans.citations),
                        abstained=ans.abstained, text=ans.text)

    return ask


def retriever(search: Callable[[str, int], list[Passage]], cite: int) -> Ask:
    """A retrieval-only system: ranks passages, "cites" its top `cite`, never abstains, writes no answer."""

    def ask(item: EvalItem) -> Response:
        ranking = tuple(search(item.question, RANK_DEPTH))
        return Response(ranking=ranking, citations=ranking[:cite])

    return ask


# ---- the store -----------------------------------------------------------------------------


def store_settings(settings: Settings, data_dir: Path) -> Settings:
    """The same settings pointed at another data folder, always with an embedded Chroma."""
    return settings.model_copy(update={"data_dir": data_dir, "chroma_host": None})


@contextmanager
def fresh_engine(settings: Settings, embedder: Any, corpus: Sequence[Path],
                 store: Path | None = None) -> Iterator[tuple[Any, IngestReport]]:
    """A store in a temporary folder with the corpus ingested into it, removed afterwards; or, with `store`,
    that data folder kept, the corpus ingested into it (idempotent: a second run only checks the files)."""

    with tempfile.TemporaryDirectory(prefix="policyqa-eval-") as tmp:
        engine = open_runtime(store_settings(settings, store or Path(tmp) / "store"), embedder=embedder)
        try:
            report = ingest_paths(engine.store, list(corpus))
            for failure in report.failed:
                log.warning("ingest failed for %s: %s", failure.path, failure.error)
            yield engine, report
        finally:
            engine.close()


def raw_docs(engine: Any, corpus: Sequence[Path]) -> list[RawDoc]:
    """The corpus files as the LangChain recipe reads them: extracted text, unparsed."""

    by_source = {d.source_key: d for d in engine.store.snapshot.docs.values()}
    docs = []
    for _, path in discover(list(corpus)):
        try:
            src = load_file(path)
        except LoadError:
            continue
        stored = by_source.get(str(path))
        names = (stored.doc_id, stored.meta.title, stored.meta.number or "") if stored else (path.stem,)
        docs.append(RawDoc(key=str(path), text=src.text, names=names))
    return docs


def scanned_run(settings: Settings, embedder: Any, items: Sequence[EvalItem], corpus: Sequence[Path],
                level: Degradation) -> tuple[SystemRun, dict[str, Any]]:
    """The corpus as image-only scans at `level`, ingested (by OCR) into a second fresh store and asked the
    same questions: the `policyqa-scanned` row, and its ingest report."""
    with tempfile.TemporaryDirectory(prefix="policyqa-eval-scans-") as tmp:
        t0 = time.perf_counter()
        scans = scan_corpus(corpus, Path(tmp) / "scans", level)
        render_s = time.perf_counter() - t0
        with fresh_engine(settings, embedder, [Path(tmp) / "scans"]) as (engine, report):
            ingest_s = time.perf_counter() - t0 - render_s
            run = run_system("policyqa-scanned", ours(engine), items)
            judgeable = judgeable_items(engine, items)
    answerable = sum(1 for it in items if it.answerable)
    return run, {"level": level.name, "files": len(scans), "render_seconds": round(render_s, 2),
                 "ingest_seconds": round(ingest_s, 2), "ingest": report.to_json(),
                 "judgeable": judgeable, "answerable": answerable}


def judgeable_items(engine: Any, items: Sequence[EvalItem]) -> int:
    """Answerable questions with at least one relevant chunk in the store: in a store of OCR text, an evidence
    string OCR misread matches no chunk, so retrieval cannot be credited for that question whatever it finds."""
    snap = engine.store.snapshot
    passages = [chunk_passage(c, snap.docs[c.doc_id].meta if c.doc_id in snap.docs else None)
                for c in snap.chunks.values()]
    return sum(1 for it in items if it.answerable and any(is_relevant(p, it) for p in passages))


def evaluate(settings: Settings, embedder: Any, items: Sequence[EvalItem], corpus: Sequence[Path], *,
             compare: bool = False, store: Path | None = None,
             scanned: Degradation | None = None) -> dict[str, Any]:
    """Ingest the corpus into a fresh store (or into `store`, kept), run every system, return summaries and
    outcomes; with `scanned`, also the corpus's scans at that level in a second fresh store."""
    t0 = time.perf_counter()
    with fresh_engine(settings, embedder, corpus, store) as (engine, report):
        ingest_s = time.perf_counter() - t0
        cite = engine.settings.top_k
        runs = [run_system("policyqa", ours(engine), items)]
        extra: dict[str, Any] = {}
        if compare:
            for name, mode in (("bm25", "lexical"), ("dense", "dense")):
                search = partial(search_passages, engine, mode=mode)
                runs.append(run_system(name, retriever(search, cite), items))
            with tempfile.TemporaryDirectory(prefix="policyqa-eval-lc-") as tmp:
                index = open_langchain_index(Path(tmp), embedder, raw_docs(engine, corpus))
                extra["langchain_chunks"] = index.chunks
                search = partial(langchain_passages, index)
                runs.append(run_system("langchain", retriever(search, cite), items))
    if scanned is not None:
        run, extra["scanned"] = scanned_run(settings, embedder, items, corpus, scanned)
        runs.insert(1, run)
    return {"runs": runs, "ingest": report.to_json(), "ingest_seconds": round(ingest_s, 2),
            "embedding_model": getattr(embedder, "model_id", ""), **extra}

"""Scale benchmark: query latency, memory and disk of stores of several sizes built from real ALQAC chunks.

Each store is written in this process through the real store classes, then measured in a fresh
subprocess (`python -m evals.bench.scale JOB.json`), so the resident memory reported is that size's alone.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals.alqac import load_questions
from evals.bench.base_chunks import (
    Base,
    PrecomputedVectors,
    copy_store,
    find_cached_store,
    ingest_base,
    read_base,
)
from evals.bench.replicate import Pieces, chunk_pieces, replicate
from evals.run import store_settings
from rag.answer.entry import answer
from rag.answer.entry import search as search_question
from rag.retrieve import search
from rag.runtime import load_embedder, open_runtime
from rag.settings import Settings

log = logging.getLogger(__name__)

MODES = ("embed", "dense", "lexical", "hybrid", "ask")  # embed = the query embedding alone, part of dense
DEFAULT_BASE_LAWS = 6  # when no cached ALQAC store exists: the 6 smallest laws, about 10 minutes to ingest
K = 10


@dataclass(frozen=True)
class ScaleConfig:
    sizes: tuple[int, ...] = (10_000, 100_000)
    base_store: Path | None = None  # a store to read the base from; None = the newest cached ALQAC store
    base_laws: int = 0  # > 0: ingest this many smallest ALQAC laws as the base (and measure ingest)
    laws_dir: Path = Path("../shared/data/alqac2025/laws")
    questions_path: Path = Path("../shared/data/alqac2025/train.json")
    queries: int = 50
    noise: float = 0.25  # expected norm of the Gaussian noise added to a copied unit vector
    seed: int = 13
    warmup: int = 2


# ---- memory ------------------------------------------------------------------------------------

def memory_mib() -> tuple[float, float]:
    """(resident, peak resident) memory of this process in MiB: VmRSS and VmHWM, else getrusage."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
        return peak, peak


def disk_mib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def _stats(ms: Sequence[float]) -> dict[str, float]:
    p50, p95 = np.percentile(ms, [50, 95])  # linear interpolation, as evals.metrics.percentile
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "mean": round(statistics.fmean(ms), 1),
            "n": len(ms)}


# ---- building (this process) -------------------------------------------------------------------

def build_store(settings: Settings, base: Base, pieces: Sequence[Sequence[Pieces]], size: int, *,
                noise: float, seed: int) -> dict[str, Any]:
    """Write a store of `size` chunks (the real base, then copies) through Store.writing(); timings."""

    started = time.perf_counter()
    engine = open_runtime(settings, embedder=PrecomputedVectors(base.model_id))
    vec_s = doc_s = copy_s = 0.0
    docs = chunks = varied = 0
    try:
        with engine.store.writing():
            t = time.perf_counter()
            for v in replicate(base.docs, pieces, size, noise=noise, seed=seed):
                t0 = time.perf_counter()
                engine.store.vectors.upsert(v.chunks, v.vectors, v.doc.meta)
                t1 = time.perf_counter()
                engine.store.docstore.put_document(v.doc, v.chunks, v.tokens)
                t2 = time.perf_counter()
                copy_s, vec_s, doc_s, t = copy_s + t0 - t, vec_s + t1 - t0, doc_s + t2 - t1, t2
                docs, chunks, varied = docs + 1, chunks + len(v.chunks), varied + v.varied
            written = time.perf_counter()
        publish_s = time.perf_counter() - written  # snapshot reload and BM25 index build over every chunk
    finally:
        engine.close()
    real = min(size, base.chunks)
    return {"documents": docs, "chunks": chunks, "real_chunks": real, "copied_chunks": chunks - real,
            "copied_text_varied": varied, "build_s": round(time.perf_counter() - started, 1),
            "chroma_write_s": round(vec_s, 1), "docstore_write_s": round(doc_s, 1),
            "index_s": round(publish_s, 1), "copy_s": round(copy_s, 1)}


# ---- measuring (a fresh subprocess per size) ---------------------------------------------------

def measure(settings: Settings, questions: Sequence[str], *, warmup: int = 2) -> dict[str, Any]:
    """Open the store with the real embedder; memory, open time, and latency of each mode per question."""

    rss_start, _ = memory_mib()
    embedder = load_embedder(settings)
    rss_model, _ = memory_mib()
    t0 = time.perf_counter()
    engine = open_runtime(settings, embedder=embedder)
    open_s = time.perf_counter() - t0
    rss_open, _ = memory_mib()
    runs: dict[str, Callable[[str], object]] = {
        "embed": lambda q: embedder.embed_query_np(q),
        "dense": lambda q: search(engine, q, k=K, mode="dense"),
        "lexical": lambda q: search(engine, q, k=K, mode="lexical"),
        "hybrid": lambda q: search_question(q, engine=engine, k=K),
        "ask": lambda q: answer(q, engine=engine),
    }
    ms: dict[str, list[float]] = {mode: [] for mode in runs}
    ask_abstained = 0
    load_before = os.getloadavg()[0]
    try:
        for q in questions[:warmup]:
            for run in runs.values():
                run(q)
        # The modes take turns on each question, so a burst of load from elsewhere hits them alike.
        for q in questions:
            for mode, run in runs.items():
                t = time.perf_counter()
                out = run(q)
                ms[mode].append((time.perf_counter() - t) * 1000)
                ask_abstained += bool(getattr(out, "abstained", False))
        documents, chunks = engine.store.counts()
    finally:
        engine.close()
    rss_end, peak = memory_mib()
    return {"documents": documents, "chunks": chunks, "open_s": round(open_s, 2),
            "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "rss_python_mib": round(rss_start), "rss_with_model_mib": round(rss_model),
            "rss_open_mib": round(rss_open), "rss_store_mib": round(rss_open - rss_model),
            "rss_after_queries_mib": round(rss_end), "rss_peak_mib": round(peak),
            "latency_ms": {mode: _stats(v) for mode, v in ms.items()}, "ask_abstained": ask_abstained,
            "answer_mode": settings.answer_mode}


def _measure_in_subprocess(data_dir: Path, questions: Sequence[str], warmup: int, job_dir: Path) -> dict[str, Any]:
    job = job_dir / f"measure-{data_dir.name}.json"
    out = job_dir / f"result-{data_dir.name}.json"
    job.write_text(json.dumps({"data_dir": str(data_dir), "questions": list(questions), "warmup": warmup,
                               "out": str(out)}, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    proc = subprocess.run([sys.executable, "-m", "evals.bench.scale", str(job)], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"measuring {data_dir} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _main(job_path: str) -> None:
    """Subprocess entry: measure the store named in the job file, write the result next to it."""

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.basicConfig(level=logging.WARNING)
    settings = store_settings(Settings(), Path(job["data_dir"]))  # a child process: its edge
    result = measure(settings, job["questions"], warmup=job["warmup"])
    Path(job["out"]).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


# ---- the whole run -----------------------------------------------------------------------------

def pick_questions(path: Path, laws: set[str], n: int) -> list[str]:
    """n real ALQAC questions, those about the base's laws first (file order within each group)."""

    qs, _ = load_questions(path)
    ours = [q.text for q in qs if all(law in laws for law, _ in q.gold)]
    others = [q.text for q in qs if not all(law in laws for law, _ in q.gold)]
    return (ours + others)[:n]


def _resolve_base(settings: Settings, config: ScaleConfig, work: Path, progress: Callable[[str], None]
                  ) -> tuple[Base, dict[str, Any] | None]:
    ingest: dict[str, Any] | None = None
    cached = None if config.base_laws else (config.base_store or find_cached_store(settings.data_dir))
    if cached is not None:
        progress(f"base: copying {cached}")
        store_dir = copy_store(Path(cached), work / "base-store")
        kind = "cached ALQAC evaluation store" if config.base_store is None else "store"
        source = f"{kind} {cached}"
    else:
        n = config.base_laws or DEFAULT_BASE_LAWS
        progress(f"base: ingesting the {n} smallest ALQAC laws with the real embedder")
        store_dir, ingest = ingest_base(settings, config.laws_dir, n, work)
        source = f"the {n} smallest ALQAC 2025 laws, ingested now"
    return read_base(settings, store_dir, source), ingest


def run_scale(settings: Settings, config: ScaleConfig, *, work_dir: Path | None = None,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build and measure a store of each size; the report (JSON-ready) with the growth between sizes."""
    say = progress or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="policyqa-scale-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        base, ingest = _resolve_base(settings, config, work, say)
        t0 = time.perf_counter()
        pieces = [[chunk_pieces(c, t) for c, t in zip(d.chunks, d.tokens, strict=True)] for d in base.docs]
        aligned = sum(p.aligned for ps in pieces for p in ps)
        prepare_s = time.perf_counter() - t0
        laws = {d.doc.meta.title for d in base.docs}
        questions = pick_questions(config.questions_path, laws, config.queries)
        sizes = []
        for size in config.sizes:
            store_dir = work / f"store-{size}"
            say(f"size {size}: writing the store")
            built = build_store(store_settings(settings, store_dir), base, pieces, size, noise=config.noise,
                                seed=config.seed)
            say(f"size {size}: measuring in a fresh process ({len(questions)} questions × {len(MODES)} modes)")
            measured = _measure_in_subprocess(store_dir, questions, config.warmup, work)
            sizes.append({"target": size, **built, **measured, "disk_mib": round(disk_mib(store_dir), 1)})
            if work_dir is None:  # a 100k-chunk store takes GBs; keep it only when asked to
                shutil.rmtree(store_dir, ignore_errors=True)
    copied = sum(s["copied_chunks"] for s in sizes)
    varied = sum(s["copied_text_varied"] for s in sizes)
    return {
        "note": synthetic_note(base, config, varied / copied if copied else None),
        "base": {"source": base.source, "documents": len(base.docs), "chunks": base.chunks,
                 "embedding_model": base.model_id, "tokens_cut_from_stored": aligned,
                 "tokens_resegmented": base.chunks - aligned, "prepare_s": round(prepare_s, 1)},
        "ingest": ingest,
        "config": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
                   "k": K, "questions": len(questions)},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "sizes": sizes,
        "growth": growth(sizes),
    }


def synthetic_note(base: Base, config: ScaleConfig, varied: float | None) -> str:
    """What in the stores is real and what is synthetic."""
    kind = "ALQAC chunks" if config.base_store is None else "chunks"
    text = (f"Every store starts with real {kind}, {base.chunks:,} of them at most ({len(base.docs)} documents: "
            f"{base.source}, with their real vectors). Stores larger than that reuse these real {kind} "
            f"as copies with perturbed vectors (Gaussian noise of norm {config.noise}, seed {config.seed}, "
            f"renormalised) and varied text (each chunk's clauses reordered and one of three or more dropped")
    if varied is not None:
        text += f"; {varied:.0%} of copied chunks differ from their original"
    return text + "); their lexical tokens are the stored ones rearranged the same way."


GROWTH_METRICS = (("rss_store_mib", "store RSS"), ("rss_open_mib", "process RSS"), ("disk_mib", "disk"),
                  ("open_s", "open"), ("build_s", "build"))


def growth(sizes: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Each metric at the largest size over the smallest, beside the ratio of chunk counts."""
    if len(sizes) < 2:
        return None
    lo, hi = min(sizes, key=lambda s: s["chunks"]), max(sizes, key=lambda s: s["chunks"])

    def ratio(a: float, b: float) -> float | None:
        return round(b / a, 2) if a else None

    out: dict[str, Any] = {"from_chunks": lo["chunks"], "to_chunks": hi["chunks"],
                           "chunks": ratio(lo["chunks"], hi["chunks"])}
    for mode in MODES:
        for p in ("p50", "p95"):
            out[f"{mode}_{p}"] = ratio(lo["latency_ms"][mode][p], hi["latency_ms"][mode][p])
    for key, _ in GROWTH_METRICS:
        out[key] = ratio(lo[key], hi[key])
    return out


def format_report(report: dict[str, Any]) -> str:
    """The report as two plain-text tables (store, latency), the growth line and the note on synthetic data."""
    cfg = report["config"]
    lines = [f"Scale benchmark, {report['machine']['cpus']} CPUs, answer mode {report['sizes'][0]['answer_mode']}"
             if report["sizes"] else "Scale benchmark", "",
             f"{'chunks':>8} {'real':>6} {'docs':>5} {'build s':>8} {'open s':>7} {'RSS MiB':>8} {'store MiB':>10} "
             f"{'peak MiB':>9} {'disk MiB':>9}"]
    for s in report["sizes"]:
        lines.append(f"{s['chunks']:>8,} {s['real_chunks']:>6,} {s['documents']:>5} {s['build_s']:>8.1f} "
                     f"{s['open_s']:>7.2f} {s['rss_open_mib']:>8} {s['rss_store_mib']:>10} {s['rss_peak_mib']:>9} "
                     f"{s['disk_mib']:>9.0f}")
    lines += ["(RSS: the measuring process after opening the store, model included; store: what opening the "
              "store added; peak: after all queries)", "",
              f"Latency in ms, p50/p95 over {cfg['questions']} real ALQAC questions, k={cfg['k']} "
              "(embed = the query embedding alone, part of dense):",
              f"{'chunks':>8} " + " ".join(f"{m:>15}" for m in MODES) + "  load avg"]
    for s in report["sizes"]:
        lat = " ".join(f"{s['latency_ms'][m]['p50']:.1f}/{s['latency_ms'][m]['p95']:.1f}".rjust(15) for m in MODES)
        lines.append(f"{s['chunks']:>8,} {lat}  " + " → ".join(f"{x:.1f}" for x in s["load_avg_1min"]))
    g = report["growth"]
    if g:
        parts = [f"{m} p50 ×{g[m + '_p50']}, p95 ×{g[m + '_p95']}" for m in MODES]
        parts += [f"{label} ×{g[key]}" for key, label in GROWTH_METRICS]
        lines += ["", f"Growth {g['from_chunks']:,} → {g['to_chunks']:,} chunks (×{g['chunks']}): " + "; ".join(parts)]
    ing = report["ingest"]
    if ing:
        lines += ["", f"Ingest of the real base ({len(ing['laws'])} ALQAC laws, {ing['engine']} embedder): "
                      f"{ing['chunks']:,} chunks, {ing['tokens']:,} tokens in {ing['seconds']} s = "
                      f"{ing['chunks_per_s']} chunks/s, {ing['tokens_per_s']} tokens/s"]
    b = report["base"]
    lines += ["", f"Note: {report['note']}",
              f"Base tokens cut from the stored ones: {b['tokens_cut_from_stored']:,} chunks; "
              f"segmented again: {b['tokens_resegmented']:,}."]
    return "\n".join(lines)

if __name__ == "__main__":
    _main(sys.argv[1])

"""OCR benchmark: character error rate per degradation level, tone-word accuracy and pages per minute, on
scans of the default corpus built by evals/scans (`policyqa bench ocr`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from evals.scans.cer import OcrScore, score
from evals.scans.corpus import build_scan, corpus_documents
from evals.scans.degrade import LEVELS
from ingest.load import LoadLimits, load_bytes
from rag.settings import Settings


def bench_ocr(corpus: Path, settings: Settings, levels: tuple[str, ...] = ("clean", "clean-200", "scan", "photo"),
              ) -> dict[str, Any]:
    """Each level's CER and tone-word accuracy over the corpus scans, and OCR throughput."""
    limits = LoadLimits.from_settings(settings)
    docs = corpus_documents(corpus)
    rows = []
    for name in levels:
        total = OcrScore(0, 0, 0, 0)
        pages = 0
        seconds = 0.0
        per_doc = {}
        for stem, doc in docs:
            scan = build_scan(stem, doc, LEVELS[name])
            started = time.perf_counter()
            src = load_bytes(scan.data, scan.name, timeout_s=settings.parse_timeout_s, limits=limits)
            seconds += time.perf_counter() - started
            s = score(scan.reference, src.text)
            per_doc[stem] = round(s.cer * 100, 2)
            total += s
            pages += scan.pages
        rows.append({"level": name, "cer_percent": round(total.cer * 100, 2),
                     "tone_word_accuracy_percent": round(total.tone_accuracy * 100, 2),
                     "characters": total.chars, "pages": pages, "seconds": round(seconds, 1),
                     "pages_per_minute": round(pages / seconds * 60, 1), "cer_percent_by_document": per_doc})
    return {"documents": [stem for stem, _ in docs], "levels": rows,
            "note": "scan = the degraded set (±2° skew, blur, noise, JPEG 60, red stamp, a blue signature; the last "
                    "page of each document photographed at an angle)"}


def bench_ten_pages(corpus: Path, settings: Settings) -> dict[str, Any]:
    """Time to load a 10-page degraded scan (the dispatch's pages repeated), pages reported as they go."""
    from evals.scans.degrade import degrade, to_pdf
    from evals.scans.render import render_pages

    stem, doc = next((s, d) for s, d in corpus_documents(corpus) if s.startswith("dispatch"))
    base = render_pages(doc)
    pages = [degrade(base[i % len(base)], LEVELS["scan"], seed=i) for i in range(10)]
    seen: list[float] = []
    started = time.perf_counter()
    load_bytes(to_pdf(pages, 300), f"{stem}-10.pdf", timeout_s=settings.parse_timeout_s,
               limits=LoadLimits.from_settings(settings), progress=lambda done, total: seen.append(
                   round(time.perf_counter() - started, 1)))
    return {"pages": 10, "seconds": round(time.perf_counter() - started, 1), "progress_at_s": seen[1:]}

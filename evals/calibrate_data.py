"""The labelled questions the abstention fit reads (eval datasets, a slice of ALQAC train), and its report."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evals.alqac import load_laws, load_questions, write_converted
from evals.calibrate import Example, abstain_scores, choose_threshold, write_calibration
from evals.dataset import EvalItem, RelevantRef, load_dataset
from evals.run import fresh_engine, store_settings
from rag.answer.abstain import Calibration
from rag.runtime import open_runtime
from rag.settings import Settings


@contextmanager
def existing_or_fresh(settings: Settings, embedder: Any, store: Path | None, corpus: Sequence[Path]) -> Iterator[Any]:
    """An engine over an already ingested data dir, or over a fresh temporary store of the corpus."""

    if store is None:
        with fresh_engine(settings, embedder, corpus) as (engine, _):
            yield engine
        return
    engine = open_runtime(store_settings(settings, store), embedder=embedder)
    try:
        yield engine
    finally:
        engine.close()


def dataset_items(paths: Sequence[Path]) -> list[EvalItem]:
    items: list[EvalItem] = []
    for p in paths:
        items.extend(load_dataset(p))
    return items


def alqac_items(laws_dir: Path, questions_path: Path, n_laws: int) -> tuple[list[EvalItem], list[EvalItem], Path]:
    """ALQAC train questions of the n smallest laws that have any, split by id parity, and a folder of those
    laws converted for the ingester (a temporary folder, left to the OS)."""

    laws = load_laws(laws_dir)
    questions, _ = load_questions(questions_path, [law.law_id for law in laws])
    cited = {law_id for q in questions for law_id, _ in q.gold}
    chosen = sorted((law for law in laws if law.law_id in cited), key=lambda law: len(law.articles))[:n_laws]
    names = {law.law_id for law in chosen}
    folder = Path(tempfile.mkdtemp(prefix="policyqa-calibrate-")) / "laws"
    write_converted(chosen, folder)
    fit: list[EvalItem] = []
    report: list[EvalItem] = []
    for q in questions:
        if not {law_id for law_id, _ in q.gold} <= names:
            continue
        item = EvalItem(id=q.id, question=q.text, relevant=tuple(RelevantRef(law, art) for law, art in sorted(q.gold)))
        (fit if int(q.id.rsplit("_", 1)[-1]) % 2 else report).append(item)
    return fit, report, folder


def calibration_report(cal: Calibration, fit_ex: Sequence[Example], report_ex: Sequence[Example], out: Path, *,
                       threshold_on: Sequence[Example], corpus_report: Sequence[Example],
                       **provenance: Any) -> dict[str, Any]:
    """Choose the threshold on threshold_on (part of the fit split), score the splits, write the model file;
    the printed summary."""
    threshold = choose_threshold(threshold_on, cal)
    cal = Calibration(cal.weights, cal.bias, threshold, cal.means, cal.scales)
    scores = {"fit": abstain_scores(fit_ex, cal, threshold), "report": abstain_scores(report_ex, cal, threshold),
              "corpus_fit": abstain_scores(threshold_on, cal, threshold),
              "corpus_report": abstain_scores(corpus_report, cal, threshold)}
    by_source = {}
    for split, examples in (("fit", fit_ex), ("report", report_ex)):
        for source in ("answerable", "left-out", "unanswerable"):
            part = [e for e in examples if e.source == source]
            if part:
                by_source[f"{split}/{source}"] = abstain_scores(part, cal, threshold)["accuracy"]
    seconds = round(float(provenance.pop("seconds", 0.0)), 1)
    meta: dict[str, Any] = {"command": "policyqa calibrate",
                            **{k: [str(p) for p in v] if isinstance(v, list) else v for k, v in provenance.items()},
                            "scores": scores, "accuracy_by_source": by_source, "seconds": seconds}
    write_calibration(out, cal, meta)
    return {"model": str(out), "threshold": threshold, **scores, "accuracy_by_source": by_source,
            "weights": cal.weights}

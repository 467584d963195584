"""Fit the abstention model (rag/answer/abstain.py) on labelled questions and write rag/data/abstention.yaml.

Examples: every answerable question asked of the whole store (label: answerable), the same question asked
with its source documents left out of retrieval (leave-one-document-out: unanswerable), and every written
unanswerable question. The model is fitted and its threshold chosen on the fit split; the report split is
only scored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from evals.dataset import EvalItem
from evals.relevance import doc_matches
from rag.answer.abstain import FEATURES, Calibration, p_answerable
from rag.answer.entry import drafts, evidence_features, retrieve_for_answer
from rag.query import understand
from rag.records import Filters


@dataclass(frozen=True)
class Example:
    id: str
    answerable: bool
    values: dict[str, float]
    source: str  # "answerable", "left-out", "unanswerable"


def source_docs(engine: Any, item: EvalItem) -> tuple[str, ...]:
    """Ids of the stored documents an item's `relevant` entries name."""
    snap = engine.store.snapshot
    out = []
    for doc_id, doc in snap.docs.items():
        names = (doc_id, doc.meta.title, doc.meta.number or "")
        if any(doc_matches(ref.doc, names) for ref in item.relevant):
            out.append(doc_id)
    return tuple(out)


def collect(engine: Any, items: Sequence[EvalItem], *, leave_out: bool = True, k: int = 5) -> list[Example]:
    """Feature vectors of the items as answering computes them, with left-out variants."""

    snap = engine.store.snapshot
    out: list[Example] = []
    for item in items:
        info = understand(item.question, item.history)
        variants: list[tuple[Filters | None, bool, str]] = [(None, item.answerable,
                                                              "answerable" if item.answerable else "unanswerable")]
        docs = source_docs(engine, item) if item.answerable and leave_out else ()
        if docs and len(docs) < len(snap.docs):
            variants.append((Filters(exclude_doc_ids=docs), False, "left-out"))
        for filters, label, source in variants:
            kinds, statuses, hits = retrieve_for_answer(engine, info, filters, k=k, as_of=item.as_of)
            _, draft = drafts(info, kinds, hits, snap, statuses, filters, k=k, settings=engine.settings)
            out.append(Example(item.id, label, evidence_features(info, hits, snap, filters, draft), source))
    return out


def fit(examples: Sequence[Example], *, c: float = 1.0) -> Calibration:
    """Standardised logistic regression (balanced classes); the threshold is set by choose_threshold."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[e.values[f] for f in FEATURES] for e in examples], dtype=float)
    y = np.array([int(e.answerable) for e in examples])
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales == 0] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit((x - means) / scales, y)
    return Calibration(weights=dict(zip(FEATURES, map(float, model.coef_[0]), strict=True)),
                       bias=float(model.intercept_[0]), threshold=0.5,
                       means=dict(zip(FEATURES, map(float, means), strict=True)),
                       scales=dict(zip(FEATURES, map(float, scales), strict=True)))


def abstain_scores(examples: Sequence[Example], cal: Calibration, threshold: float) -> dict[str, float]:
    """Abstention precision/recall/F1 and accuracy at a threshold."""
    abstain = [p_answerable(e.values, cal) < threshold for e in examples]
    truth = [not e.answerable for e in examples]
    tp = sum(a and t for a, t in zip(abstain, truth, strict=True))
    predicted, actual = sum(abstain), sum(truth)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(a == t for a, t in zip(abstain, truth, strict=True)) / len(examples) if examples else 0.0
    return {"n": len(examples), "unanswerable": actual, "abstain_precision": round(precision, 4),
            "abstain_recall": round(recall, 4), "abstain_f1": round(f1, 4), "accuracy": round(accuracy, 4)}


def choose_threshold(examples: Sequence[Example], cal: Calibration) -> float:
    """The threshold that makes the worse of abstention precision and recall best on the fit split: a wrong
    refusal and a wrong answer both count (ties: the lower threshold, fewer refusals)."""
    best = (-1.0, 0.5)
    for t in (i / 100 for i in range(5, 96)):
        scores = abstain_scores(examples, cal, t)
        worst = min(scores["abstain_precision"], scores["abstain_recall"])
        if worst > best[0] + 1e-9:
            best = (worst, t)
    return best[1]


def write_calibration(path: Path, cal: Calibration, provenance: dict[str, Any]) -> None:
    """The model file the product loads, with how it was made and what it scored."""
    data = {"model": {"weights": cal.weights, "bias": cal.bias, "threshold": cal.threshold, "means": cal.means,
                      "scales": cal.scales}, "provenance": provenance}
    header = ("# Abstention model: logistic regression over rag/answer/abstain.py FEATURES. Written by\n"
              f"# `{provenance.get('command', 'policyqa calibrate')}`; do not edit by hand.\n")
    path.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def rounded(cal: Calibration) -> Calibration:
    r = lambda d: {k: round(v, 6) for k, v in d.items()}  # noqa: E731
    return Calibration(r(cal.weights), round(cal.bias, 6), cal.threshold, r(cal.means),
                       {k: round(v, 6) or 1.0 for k, v in cal.scales.items()})


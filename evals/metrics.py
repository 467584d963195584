"""Metric functions: pure, hand-checkable, no I/O. `None` means "undefined" (a zero denominator)."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Sequence

from rag.text.normalize import normalize_text

_SPACE = re.compile(r"\s+")


def norm_match(text: str) -> str:
    """NFC, case-folded, whitespace collapsed: the form in which evidence and answers are compared.

    Tone marks are also put in one place (hoà = hòa), as the ingester does, so that a spelling variant
    in the dataset never turns a relevant passage into a miss.
    """
    return _SPACE.sub(" ", normalize_text(text).casefold()).strip()


def contains_any(text: str, needles: Iterable[str]) -> bool:
    """True when the normalised text contains one of the normalised needles (empty needles never match)."""
    hay = norm_match(text)
    return any(n and n in hay for n in (norm_match(x) for x in needles))


def first_relevant_rank(flags: Sequence[bool]) -> int | None:
    """1-based rank of the first True in a ranking, None when nothing relevant was retrieved."""
    for i, flag in enumerate(flags, start=1):
        if flag:
            return i
    return None


def hit_at(rank: int | None, k: int) -> float:
    """1.0 when the first relevant item is within the top k."""
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    """1/rank of the first relevant item, 0 beyond k (MRR@k is the mean of this)."""
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean; None for an empty sequence."""
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def ratio(num: float, den: float) -> float | None:
    """num/den, None when den is 0."""
    return num / den if den else None


def retrieval_summary(ranks: Sequence[int | None], ks: Sequence[int] = (1, 5, 10),
                      mrr_k: int = 10) -> dict[str, float | None]:
    """hit@k for each k and mrr@mrr_k over the first-relevant ranks of a set of questions."""
    out: dict[str, float | None] = {f"hit@{k}": mean(hit_at(r, k) for r in ranks) for k in ks}
    out[f"mrr@{mrr_k}"] = mean(reciprocal_rank(r, mrr_k) for r in ranks)
    return out


def dedupe(items: Iterable[Hashable]) -> list[Hashable]:
    """Items in first-occurrence order without repeats."""
    seen: set[Hashable] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def f2_score(retrieved: Iterable[Hashable], gold: Iterable[Hashable]) -> float:
    """ALQAC's per-question F2 = 5PR/(4P+R) over retrieved and gold article sets (0 when none match)."""
    got, want = set(retrieved), set(gold)
    correct = len(got & want)
    if not correct:
        return 0.0
    p, r = correct / len(got), correct / len(want)
    return 5 * p * r / (4 * p + r)


def macro_f2(pairs: Iterable[tuple[Iterable[Hashable], Iterable[Hashable]]]) -> float | None:
    """Mean of the per-question F2 over (retrieved, gold) pairs, as ALQAC scores task 1."""
    return mean(f2_score(r, g) for r, g in pairs)


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float | None]:
    """Precision and recall of abstaining, with abstention as the positive class."""
    tp = sum(1 for a, ok in zip(abstained, answerable, strict=True) if a and not ok)
    predicted = sum(1 for a in abstained if a)
    actual = sum(1 for ok in answerable if not ok)
    return {"abstain_precision": ratio(tp, predicted), "abstain_recall": ratio(tp, actual)}


def percentile(values: Sequence[float], q: float) -> float | None:
    """q-th percentile (0–100) with linear interpolation between order statistics (numpy's default)."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def rounded(summary: dict[str, object], digits: int = 4) -> dict[str, object]:
    """Round float values for printing and JSON (ints, strings and None pass through)."""
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in summary.items()}

"""How well the retrieved passages cover the question: the signal behind abstention and sentence choice."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from rag.query import expand_abbreviations
from rag.text.normalize import fold_accents

# Question words and function words that say nothing about the content asked for (accent-folded).
STOPWORDS = frozenset("""
gi nao ai bao nhieu la cua va cac nhung co khong duoc cho ve trong theo thi sao nhu the phai lam hay biet nay
do day kia o tai tu den voi mot hai ba vay vi khi ra len xuong chi can nen roi da dang se con a nhe u ban van
ho hoi viec dieu nguoi it hon nhat rat qua moi tung gom what which who whom whose when where why how is are
does did must should of to in for and an about by on this that they their was were be with according dispatch
document documents say says said any there could would will please tell me us much many under can if
or have has get s
""".split())

_WORD = re.compile(r"\w+", re.UNICODE)
NEEDS_TABLE = Path(__file__).parents[1] / "data" / "needs.yaml"


@lru_cache(maxsize=4)
def needs(path: Path = NEEDS_TABLE) -> dict[str, tuple[re.Pattern[str], re.Pattern[str]]]:
    """Kinds of fact a question can need: kind → (asks, over the folded question; has, over a passage), from
    rag/data/needs.yaml; a malformed table raises ValueError naming it."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not raw or not all(
            isinstance(v, dict) and isinstance(v.get("asks"), str) and isinstance(v.get("has"), str)
            for v in raw.values()):
        raise ValueError(f"{path}: expected kinds mapped to `asks` and `has` regular expressions")
    try:
        return {str(k): (re.compile(v["asks"], re.I), re.compile(v["has"], re.I)) for k, v in raw.items()}
    except re.error as exc:
        raise ValueError(f"{path}: {exc}") from exc


def needed(question: str) -> list[str]:
    """The kinds of fact the question asks for ('money', 'age', …), in table order."""
    folded = fold_accents(question)
    return [need for need, (asks, _has) in needs().items() if asks.search(folded)]


def holds(need: str, text: str) -> bool:
    """The passage holds a fact of that kind."""
    return needs()[need][1].search(text) is not None


_COUNT = re.compile(r"\b(?:how many|bao nhieu|may)\s+([a-z]+(?:\s+[a-z]+)?)", re.I)
# With diacritics "mấy" (how many) and "máy" (machine, as in "xe máy") differ: fold only after matching.
_COUNT_ACCENTED = re.compile(r"(?<!\w)(?:how many|bao nhiêu|mấy)\s+(\w+(?:\s+\w+)?)", re.I)
_NUMBER_THEN_WORDS = r"\d+\s+(?:\w+\s+){0,3}?"


def _count_supported(question: str, joined_folded: str, translate: Any) -> bool:
    """'How many X' / 'bao nhiêu X': some passage writes a number followed closely by X."""
    accented = any(ord(c) > 127 for c in question)
    m = _COUNT_ACCENTED.search(question.lower()) if accented else _COUNT.search(fold_accents(question))
    if not m:
        return True
    noun = fold_accents(m.group(1))
    if noun.split()[0] in STOPWORDS and len(noun.split()) == 1:
        return True
    if re.fullmatch(r"[a-z ]+", noun) and translate is not None and re.search(r"\bhow many\b", m.group(0)):
        vi = translate(noun)
        if not vi:
            return False  # an English noun we cannot map to the documents cannot be counted in them
        noun = fold_accents(vi.split()[0]) if vi else noun
    head = noun.split()[0]
    return re.search(_NUMBER_THEN_WORDS + re.escape(head), joined_folded) is not None


def content_terms(text: str) -> list[str]:
    """Accent-folded content syllables of a question, stopwords removed, in order, unique."""
    words = [fold_accents(w) for w in _WORD.findall(text)]
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS and len(w) > 1 or w.isdigit()))


def passage_terms(texts: Iterable[str]) -> set[str]:
    """Folded syllables of passages, with their abbreviations expanded (UBND ↔ Ủy ban nhân dân)."""
    terms: set[str] = set()
    for text in texts:
        terms.update(fold_accents(w) for w in _WORD.findall(expand_abbreviations(text)))
    return terms


def coverage(question_terms: list[str], passage: set[str], idf: dict[str, float],
             unseen: float | None = None) -> float:
    """IDF-weighted share of the question's content terms found in the passages (0..1)."""
    if not question_terms:
        return 0.0
    default = unseen if unseen is not None else max(idf.values(), default=1.0)
    weights = {t: idf.get("~" + t, default) for t in question_terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in passage) / total if total else 0.0


def missing_need(question: str, passages: Iterable[str], translate: Any = None) -> str | None:
    """The kind of fact the question needs and no passage holds ('money', 'deadline', …), else None."""
    texts = list(passages)
    joined = "\n".join(texts)
    for need in needed(question):
        if not holds(need, joined):
            return need
    if not _count_supported(question, fold_accents(joined), translate):
        return "count"
    return None

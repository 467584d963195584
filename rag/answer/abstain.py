"""Whether the retrieved evidence answers the question: a logistic model over retrieval features, fitted on
labelled questions (answerable ones, written unanswerable ones, and answerable ones asked with their source
document left out) by `policyqa calibrate`, and shipped as rag/data/abstention.yaml."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from rag.answer.evidence import STOPWORDS, content_terms, coverage, missing_need, passage_terms
from rag.query import QueryInfo, expand_abbreviations, translate_terms, translated_phrases, untranslated
from rag.records import Hit
from rag.text.normalize import fold_accents
from rag.text.quantities import asked_quantities, in_range_terms
from rag.text.scope import out_of_scope

CALIBRATION = Path(__file__).parents[1] / "data" / "abstention.yaml"
FEATURES = ("dense_top", "lexical_top", "coverage_top1", "coverage_top3", "pairs_top1", "pairs_top3", "agreement",
            "need_missing", "named_document", "exact_reference", "unknown_document", "english", "out_of_scope",
            "answer_coverage", "answer_pairs", "rare_missing", "corpus_pairs")
_WORD = re.compile(r"\w+", re.UNICODE)
_MARKER = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, float]
    bias: float
    threshold: float  # abstain when P(answerable) is below this
    means: dict[str, float]  # feature standardisation, from the fitting data
    scales: dict[str, float]


def question_terms(info: QueryInfo) -> list[str]:
    """Content terms of the question as the passages would write them (English translated). Abbreviation
    and vocabulary expansions are alternatives, not more terms to find: coverage reads them separately."""
    if info.language == "en":
        return content_terms(translate_terms(info.standalone)) + content_terms(untranslated(info.standalone))
    return content_terms(expand_abbreviations(info.standalone))


def said_in_law_words(info: QueryInfo, texts: Sequence[str]) -> set[str]:
    """Folded words of the question's everyday phrases whose legal wording the passages use ("vượt đèn đỏ"
    is covered by "không chấp hành hiệu lệnh của đèn tín hiệu"): they count as found."""
    folded = fold_accents(" ".join(texts))
    out: set[str] = set()
    for phrase, others in info.equivalents:
        if any(fold_accents(o) in folded for o in others):
            out.update(fold_accents(phrase).split())
    return out


def covered(terms: list[str], texts: Sequence[str], info: QueryInfo, snapshot: Any) -> float:
    """IDF-weighted share of the question's terms the passages hold, in their words or the law's."""
    present = passage_terms(texts) | said_in_law_words(info, texts)
    present |= in_range_terms(asked_quantities(info.standalone), texts)  # "25 km/h" in "trên 20 km/h đến 35"
    return coverage(terms, present, snapshot.idf, snapshot.idf_unseen)


def question_pairs(info: QueryInfo) -> list[tuple[str, str]]:
    """Adjacent content syllables of the question, folded ("chất nổ" → ("chat", "no")): single syllables occur
    everywhere in legal Vietnamese, the pairs that make its words do not."""
    # English: pairs within each translated term (not across two terms) and within what is left untranslated
    texts = ([*translated_phrases(info.standalone), untranslated(info.standalone)] if info.language == "en"
             else [expand_abbreviations(info.standalone)])
    out: list[tuple[str, str]] = []
    for text in texts:
        words = [fold_accents(w) for w in _WORD.findall(text)]
        out += [(a, b) for a, b in zip(words, words[1:], strict=False)
                if a not in STOPWORDS and b not in STOPWORDS and not (a.isdigit() or b.isdigit())]
    return list(dict.fromkeys(out))


def pairs_covered(pairs: Sequence[tuple[str, str]], texts: Sequence[str], info: QueryInfo) -> float:
    """Share of the question's word pairs that the passages write (or whose everyday phrase they put in the
    law's words)."""
    if not pairs:
        return 1.0
    have: set[tuple[str, str]] = set()
    for text in texts:
        have |= word_pairs(text)
    said = said_in_law_words(info, texts)
    return sum((a, b) in have or (a in said and b in said) for a, b in pairs) / len(pairs)


def word_pairs(text: str) -> set[tuple[str, str]]:
    """Adjacent folded syllables of a text."""
    words = [fold_accents(w) for w in _WORD.findall(text)]
    return set(zip(words, words[1:], strict=False))


def doc_pairs(snapshot: Any) -> dict[str, set[tuple[str, str]]]:
    """Every adjacent syllable pair each document of the (reader's view of the) store writes, built once per
    snapshot."""
    pairs: dict[str, set[tuple[str, str]]] | None = snapshot.derived.get("word_pairs")
    if pairs is None:
        pairs = {}
        for chunk in snapshot.chunks.values():
            pairs.setdefault(chunk.doc_id, set()).update(word_pairs(expand_abbreviations(chunk.text)))
        snapshot.derived["word_pairs"] = pairs
    return pairs


def corpus_pairs(pairs: Sequence[tuple[str, str]], snapshot: Any, allowed: set[str] | None) -> float:
    """Share of the question's word pairs that some document it may be answered from writes anywhere."""
    if not pairs:
        return 1.0
    sets = [s for d, s in doc_pairs(snapshot).items() if allowed is None or d in allowed]
    return sum(any(p in s for s in sets) for p in pairs) / len(pairs)


def rare_missing(terms: Sequence[str], texts: Sequence[str], info: QueryInfo, snapshot: Any) -> float:
    """The rarest question term that neither the passages nor the answer hold, as a share of the largest idf
    (1.0: a word the corpus never writes; 0 when every term is found). One missing specific word ("bồi
    thường", "flycam") sinks an answer that a share of found words would still let through."""
    present = passage_terms(texts) | said_in_law_words(info, texts)
    present |= in_range_terms(asked_quantities(info.standalone), texts)
    top = snapshot.idf_unseen or 1.0
    missing = [snapshot.idf.get("~" + t, top) for t in terms if t not in present and not t.isdigit()]
    return max(missing, default=0.0) / top if top else 0.0


def features(info: QueryInfo, hits: Sequence[Hit], snapshot: Any, *, named: bool = False,
             exact: bool = False, unknown: bool = False, drafted: str = "",
             allowed: set[str] | None = None) -> dict[str, float]:
    """The evidence features of one question (0 everywhere when nothing was retrieved). `drafted`: the
    answer's draft, whose quoted lines (a fine clause's points deduction) can hold the needed fact;
    `allowed`: the documents the filters leave (None: all)."""
    if not hits:
        return dict.fromkeys(FEATURES, 0.0)
    terms = question_terms(info)
    pairs = question_pairs(info)
    texts = [h.chunk.search_text() for h in hits[:3]]
    dense = [h for h in hits if h.dense is not None]
    lexical = [h for h in hits if h.lexical is not None]
    best_dense = max(dense, key=lambda h: h.dense or 0.0) if dense else None
    best_lexical = max(lexical, key=lambda h: h.lexical or 0.0) if lexical else None
    agree = float(best_dense is not None and best_lexical is not None
                  and best_dense.chunk.id in {h.chunk.id for h in sorted(
                      lexical, key=lambda h: -(h.lexical or 0.0))[:5]})
    answer = _MARKER.sub(" ", drafted)
    return {
        "dense_top": best_dense.dense or 0.0 if best_dense else 0.0,
        "lexical_top": math.log1p(best_lexical.lexical or 0.0) if best_lexical else 0.0,
        "coverage_top1": covered(terms, texts[:1], info, snapshot),
        "coverage_top3": covered(terms, texts, info, snapshot),
        "pairs_top1": pairs_covered(pairs, texts[:1], info),
        "pairs_top3": pairs_covered(pairs, texts, info),
        "agreement": agree,
        "need_missing": float(missing_need(info.standalone, [*texts, drafted], translate_terms) is not None),
        "named_document": float(named),
        "exact_reference": float(exact),
        "unknown_document": float(unknown),
        "english": float(info.language == "en"),
        "out_of_scope": float(out_of_scope(info.standalone) is not None),
        "answer_coverage": covered(terms, [answer], info, snapshot) if answer.strip() else 0.0,
        "answer_pairs": pairs_covered(pairs, [answer], info) if answer.strip() else 0.0,
        "rare_missing": rare_missing(terms, [*texts, answer], info, snapshot),
        "corpus_pairs": corpus_pairs(pairs, snapshot, allowed),
    }


def load_calibration(path: Path = CALIBRATION) -> Calibration:
    """The fitted model; a malformed file raises ValueError naming what is wrong."""
    return _load(path)


@lru_cache(maxsize=4)
def _load(path: Path) -> Calibration:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        model = raw["model"]
        weights = {f: float(model["weights"][f]) for f in FEATURES}
        means = {f: float(model["means"][f]) for f in FEATURES}
        scales = {f: float(model["scales"][f]) or 1.0 for f in FEATURES}
        return Calibration(weights, float(model["bias"]), float(model["threshold"]), means, scales)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: malformed abstention model ({exc})") from exc


def p_answerable(values: Mapping[str, float], cal: Calibration) -> float:
    """P(the evidence answers the question) under the fitted logistic model."""
    z = cal.bias + sum(cal.weights[f] * (values[f] - cal.means[f]) / cal.scales[f] for f in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

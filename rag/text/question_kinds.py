"""What kind of legal fact a question asks for (fine, licence points, validity, a list, a short fact), from the
phrase table rag/data/question_kinds.yaml."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from rag.text.normalize import fold_accents, normalize_text

TABLE = Path(__file__).parents[1] / "data" / "question_kinds.yaml"
KINDS = ("fine", "points", "additional", "ends", "effective", "list", "fact", "definition")


@lru_cache(maxsize=4)
def load_kinds(path: Path = TABLE) -> dict[str, re.Pattern[str]]:
    """One compiled pattern per kind; a malformed table raises ValueError naming the kind."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of kind → phrases")
    out: dict[str, re.Pattern[str]] = {}
    for kind, phrases in raw.items():
        if kind not in KINDS:
            raise ValueError(f"{path}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
        out[kind] = phrase_pattern(phrases, f"{path}: kind {kind!r}")
    return out


def phrase_pattern(phrases: object, where: str) -> re.Pattern[str]:
    """One pattern matching any of the phrases accent-folded and lower-cased at word boundaries, longest first;
    ValueError (prefixed by `where`) unless they are a non-empty list of non-empty strings."""
    if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
        raise ValueError(f"{where} needs a non-empty list of phrases")
    folded = sorted({fold_accents(normalize_text(p)).lower().strip() for p in phrases}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in folded) + r")(?!\w)")


def question_kinds(question: str, path: Path = TABLE) -> frozenset[str]:
    """The kinds whose phrases occur in the question (accent- and case-insensitive)."""
    folded = fold_accents(normalize_text(question)).lower()
    return frozenset(k for k, rx in load_kinds(path).items() if rx.search(folded))


ASKS = Path(__file__).parents[1] / "data" / "penalty_asks.yaml"
PENALTY_KINDS = frozenset({"fine", "points", "additional"})


@lru_cache(maxsize=4)
def load_asks(path: Path = ASKS) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(the asking phrases, the words left at a piece's start, at its end), compiled; a malformed table raises
    ValueError naming the key."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    table = raw if isinstance(raw, dict) else {}
    asks, leading, trailing = (phrase_pattern(table.get(key), f"{path}: {key!r}")
                               for key in ("asks", "leading", "trailing"))
    return asks, leading, trailing


def penalty_act(question: str, path: Path = ASKS) -> str:
    """The act a fine question describes, without the words that ask about the penalty ("Xe máy chở theo từ
    03 người trở lên thì bị phạt bao nhiêu và có bị trừ điểm bằng lái không?" → "Xe máy chở theo từ 03 người
    trở lên"); "" when the question is not about a penalty or nothing is left."""
    text = normalize_text(question)
    if not question_kinds(text) & PENALTY_KINDS:
        return ""
    asks, leading, trailing = load_asks(path)
    folded = fold_accents(text)  # spans of the folded text cut the text as written: same length for Vietnamese
    if len(folded) != len(text):  # a script whose letters decompose into several (Hangul): no act to cut
        return ""
    parts, last = [], 0
    for m in asks.finditer(folded):
        parts.append(text[last:m.start()])
        last = m.end()
    parts.append(text[last:])
    pieces = [p for p in (_trim(p, leading, trailing) for p in parts) if p]
    return ", ".join(pieces)


def _trim(piece: str, leading: re.Pattern[str], trailing: re.Pattern[str]) -> str:
    """A piece without the filler words and punctuation at its ends."""
    while True:
        stripped = piece.strip(" \t,.;:?!()-–")
        folded = fold_accents(stripped)
        m = leading.match(folded)
        if m:
            stripped = stripped[m.end():]
        else:
            tail = next((t for t in trailing.finditer(folded) if t.end() == len(folded)), None)
            if tail is not None:
                stripped = stripped[:tail.start()]
        if stripped == piece:
            return piece
        piece = stripped

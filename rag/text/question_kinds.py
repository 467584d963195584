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
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise ValueError(f"{path}: kind {kind!r} needs a non-empty list of phrases")
        folded = sorted({fold_accents(normalize_text(p)).lower().strip() for p in phrases}, key=len, reverse=True)
        out[kind] = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in folded) + r")(?!\w)")
    return out


def question_kinds(question: str, path: Path = TABLE) -> frozenset[str]:
    """The kinds whose phrases occur in the question (accent- and case-insensitive)."""
    folded = fold_accents(normalize_text(question)).lower()
    return frozenset(k for k, rx in load_kinds(path).items() if rx.search(folded))

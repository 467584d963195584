"""Questions legal texts do not answer, whatever they retrieve (another country's law, statistics, contact
details, price lists, pay scales), from the phrase table rag/data/out_of_scope.yaml."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from rag.text.normalize import fold_accents

__all__ = ["TABLE", "out_of_scope"]

TABLE = Path(__file__).parents[1] / "data" / "out_of_scope.yaml"


@lru_cache(maxsize=4)
def _patterns(path: Path) -> tuple[tuple[str, re.Pattern[str]], ...]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not all(
            (isinstance(v, list) and v) or (isinstance(v, dict) and v.get("prefixes") and v.get("places"))
            for v in raw.values()):
        raise ValueError(f"{path}: expected kinds mapped to phrase lists (or to prefixes and places)")
    out = []
    for kind, phrases in raw.items():
        if isinstance(phrases, dict):  # prefixes × places
            phrases = [f"{pre} {place}" for pre in phrases["prefixes"] for place in phrases["places"]]
        folded = sorted({fold_accents(str(p)).lower().strip() for p in phrases}, key=len, reverse=True)
        out.append((str(kind), re.compile(r"\b(?:" + "|".join(re.escape(p) for p in folded) + r")\b")))
    return tuple(out)


def out_of_scope(question: str, path: Path = TABLE) -> str | None:
    """The kind of out-of-scope question this is ('foreign_law', 'statistics', …), else None."""
    folded = fold_accents(question).lower()
    return next((kind for kind, pattern in _patterns(path) if pattern.search(folded)), None)

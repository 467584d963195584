"""Places a question names (Vietnam's provinces and cities, from rag/data/places.yaml) and whether it asks
about a local text of theirs: the engine answers such a question only from documents that mention the place."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from rag.text.normalize import bare_words, normalize_text

__all__ = ["TABLE", "asks_local_text", "lower_words", "mentions_place", "places_named"]

TABLE = Path(__file__).parents[1] / "data" / "places.yaml"


def lower_words(text: str) -> str:
    """Normalised (NFC, one tone-mark style), lower-case words joined by single spaces: a document is searched
    with its diacritics, so that "đấu giá lại" is not "Gia Lai"."""
    return " ".join(re.findall(r"\w+", normalize_text(text).lower()))


@lru_cache(maxsize=4)
def _table(path: Path) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...],
                                dict[str, tuple[str, ...]]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    places, local = (raw or {}).get("places"), (raw or {}).get("local_texts")
    if not isinstance(places, dict) or not places or not isinstance(local, list) or not local or not all(
            isinstance(k, str) and isinstance(v, list) and v and all(isinstance(n, str) for n in v)
            for k, v in places.items()):
        raise ValueError(f"{path}: expected `places` (place → names) and `local_texts` (phrases)")
    table = tuple((str(k), tuple(bare_words(n) for n in v)) for k, v in places.items())
    written = {str(k): tuple(dict.fromkeys(lower_words(n) for n in (k, *v))) for k, v in places.items()}
    return table, tuple(bare_words(str(p)) for p in local), written


def _has(bare_text: str, bare_phrase: str) -> bool:
    return f" {bare_phrase} " in f" {bare_text} "


def places_named(question: str, path: Path = TABLE) -> list[str]:
    """The places (their table names) the question names, in table order."""
    folded = bare_words(question)
    return [place for place, names in _table(path)[0] if any(_has(folded, n) for n in names)]


def asks_local_text(question: str, path: Path = TABLE) -> bool:
    """The question asks about a local text ("công văn …", "kế hoạch …"), not only about the law."""
    folded = bare_words(question)
    return any(_has(folded, p) for p in _table(path)[1])


def mentions_place(words: str, place: str, path: Path = TABLE) -> bool:
    """The text (already `lower_words`: a long document is normalised once, not per place) writes the place
    by its table name or one of its names, with their diacritics."""
    return any(_has(words, n) for n in _table(path)[2].get(place, ()))

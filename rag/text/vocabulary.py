"""People's words ↔ the law's words: a curated vocabulary table for query expansion.

The table is ``rag/data/vocabulary.yaml``: a list of entries, each with ``people`` (everyday phrases),
``law`` (the wording the legal texts use) and an optional ``note`` (where the wording occurs).
``expansions`` maps a question to the phrases of the other side, in both directions.

Matching works on whole words (lower case, NFC with one tone-mark style), never across a comma or a full
stop the phrase does not have; text typed without diacritics is matched on accent-folded words, so
"vuot den do" finds "vượt đèn đỏ".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from rag.text.normalize import fold_accents, normalize_text

DEFAULT_PATH = Path(__file__).parents[1] / "data" / "vocabulary.yaml"
_KEYS = frozenset({"people", "law", "note"})
_TOKEN = re.compile(r"\w+|[,.;:!?…()\[\]]")  # words, and the punctuation a phrase must not run across


@dataclass(frozen=True)
class VocabEntry:
    """One equivalence: everyday phrases and the legal wording they stand for."""

    people: tuple[str, ...]
    law: tuple[str, ...]
    note: str = ""


def _tokens(text: str) -> list[str]:
    """Lower-case NFC words (canonical tone marks) and separating punctuation; other symbols dropped."""
    return _TOKEN.findall(normalize_text(text).lower())


def _phrases(raw: object, index: int, key: str) -> tuple[str, ...]:
    """Validate one side of an entry and normalise its phrases."""
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"vocabulary entry {index}: {key!r} must be a non-empty list")
    out = []
    for phrase in raw:
        if not isinstance(phrase, str) or not any(t[0].isalnum() for t in _tokens(phrase)):
            raise ValueError(f"vocabulary entry {index}: {key!r} has an empty or non-string phrase: {phrase!r}")
        out.append(" ".join(normalize_text(phrase).split()))
    return tuple(out)


def _parse(data: object) -> tuple[VocabEntry, ...]:
    """Validate a parsed YAML table and build its entries."""
    if not isinstance(data, list):
        raise ValueError("vocabulary: the top level must be a list of entries")
    entries = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or set(item) - _KEYS or not isinstance(item.get("note", ""), str):
            raise ValueError(f"vocabulary entry {i}: must be a mapping with keys people, law and an optional "
                             f"string note, got {item!r}")
        people, law = _phrases(item.get("people"), i, "people"), _phrases(item.get("law"), i, "law")
        entries.append(VocabEntry(people, law, normalize_text(item.get("note", ""))))
    return tuple(entries)


@lru_cache(maxsize=8)
def load_vocabulary(path: Path | None = None) -> tuple[VocabEntry, ...]:
    """Load and validate a vocabulary table (default: the shipped one); read once per path and cached.

    Raises ValueError naming the index of the first malformed entry.
    """
    return _parse(yaml.safe_load(Path(path or DEFAULT_PATH).read_text(encoding="utf-8")))


@lru_cache(maxsize=8192)
def _pattern(phrase: str, folded: bool) -> re.Pattern[str]:
    """Regex for phrase (accent-folded if folded) over canonical text: words joined by single spaces."""
    tokens = [fold_accents(t) if folded else t for t in _tokens(phrase)]
    return re.compile(r"(?<!\S)" + " ".join(map(re.escape, tokens)) + r"(?!\S)")


def _shadows(o: tuple[int, int, object], f: tuple[int, int, object], folded: bool) -> bool:
    """True when match o is longer than f and contains it (or, in unaccented text, just overlaps it)."""
    longer = o[1] - o[0] > f[1] - f[0]
    return longer and (o[0] < f[1] and f[0] < o[1] if folded else o[0] <= f[0] and f[1] <= o[1])


Match = tuple[int, int, tuple[str, ...]]  # (start, end) in the canonical text, and the other side's phrases


def _kept_matches(text: str, vocab: tuple[VocabEntry, ...] | None, *,
                  to_law_only: bool = False) -> tuple[str, bool, list[Match]]:
    """(canonical text, matched accent-insensitively, kept matches as (start, end, other side's phrases))."""
    entries = load_vocabulary() if vocab is None else vocab
    canon = " ".join(_tokens(text))
    folded = fold_accents(canon) == canon
    found: list[Match] = []
    for entry in entries:
        sides = ((entry.people, entry.law),) if to_law_only else ((entry.people, entry.law), (entry.law, entry.people))
        for side, other in sides:
            for phrase in side:
                found.extend((m.start(), m.end(), other) for m in _pattern(phrase, folded).finditer(canon))
    kept = [f for f in found if not any(_shadows(o, f, folded) for o in found)]
    return canon, folded, sorted(kept, key=lambda f: (f[0], f[1]))


def expansions(text: str, vocab: tuple[VocabEntry, ...] | None = None, *, to_law_only: bool = False) -> list[str]:
    """Phrases of the other side for every vocabulary phrase found in text, in text order, de-duplicated.

    A people phrase found yields its entry's law phrases and vice versa. Text typed without any diacritics
    is matched accent-insensitively, other text exactly (so "phát" never finds "phạt"). A match lying inside
    a longer match ("xe máy" in "xe máy chuyên dùng") is ignored, in unaccented text also one overlapping a
    longer match ("do xe" in "vuot den do xe may"); phrases already in text are never returned.
    """
    canon, folded, kept = _kept_matches(text, vocab, to_law_only=to_law_only)
    out: list[str] = []
    seen: set[str] = set()
    for _, _, other in kept:
        for phrase in other:
            key = " ".join(_tokens(phrase))
            if key not in seen and not _pattern(phrase, folded).search(canon):
                seen.add(key)
                out.append(phrase)
    return out


def equivalents(text: str, vocab: tuple[VocabEntry, ...] | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """Each vocabulary phrase found in text (as written there) with the other side's phrases."""
    canon, _, kept = _kept_matches(text, vocab)
    return [(canon[a:b], other) for a, b, other in kept]

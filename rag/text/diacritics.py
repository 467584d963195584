"""Diacritics back on a question typed without them, from the stored texts' own words.

"khong doi mu bao hiem" → "không đội mũ bảo hiểm": every syllable of the corpus is counted under its
accent-folded key, and so is every pair of adjacent syllables. A question typed without diacritics is read as
a chain: each syllable takes one of its corpus spellings, chosen with its neighbours so that the pairs are the
ones the corpus writes most (Viterbi over a syllable bigram model). Question words and everyday phrases the
law rarely writes ("bao nhiêu", "bằng lái") come from a table and count as frequent. A syllable the corpus
never writes stays as typed. Both retrievers then see the words the passages use."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from rag.text.normalize import fold_accents, normalize_text
from rag.text.vocabulary import load_vocabulary

_SYLLABLE = re.compile(r"[^\W\d_]+", re.UNICODE)
PHRASES = Path(__file__).parents[1] / "data" / "restore_phrases.yaml"
TABLE_COUNT = 1_000  # a table phrase counts as this many corpus occurrences
CANDIDATES = 6  # spellings of one syllable considered
UNIGRAM_WEIGHT = 0.2  # a spelling's own frequency, beside how well it pairs with its neighbours


@dataclass(frozen=True)
class Lexicon:
    spellings: dict[str, tuple[tuple[str, int], ...]]  # folded syllable → (spelling, count), most frequent first
    pairs: dict[tuple[str, str], int]  # adjacent spellings → count


@lru_cache(maxsize=2)
def table_phrases(path: Path = PHRASES) -> tuple[str, ...]:
    """The shipped phrase table plus the people-side phrases of the vocabulary table, NFC lower case."""

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list) or not all(isinstance(p, str) and p.strip() for p in raw):
        raise ValueError(f"{path}: expected a list of phrases")
    people = [p for entry in load_vocabulary() for p in entry.people]
    return tuple(dict.fromkeys(normalize_text(p).lower().strip() for p in [*raw, *people]))


def build_lexicon(texts: Iterable[str], phrases: Iterable[str] = ()) -> Lexicon:
    """Syllable and pair counts of the texts; each table phrase counts TABLE_COUNT times."""
    unigrams: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()

    def add(words: list[str], times: int) -> None:
        for w in words:
            unigrams[w] += times
        for pair in zip(words, words[1:], strict=False):
            pairs[pair] += times

    for text in texts:
        add(_SYLLABLE.findall(text.lower()), 1)
    for phrase in phrases:
        add(_SYLLABLE.findall(phrase.lower()), TABLE_COUNT)
    by_key: dict[str, list[tuple[str, int]]] = {}
    for form, c in unigrams.items():
        by_key.setdefault(fold_accents(form), []).append((form, c))
    spellings = {k: tuple(sorted(v, key=lambda fc: -fc[1])[:CANDIDATES]) for k, v in by_key.items()}
    return Lexicon(spellings, dict(pairs))


def _spell(words: list[str], lex: Lexicon) -> list[str]:
    """The most likely spelling of a run of unaccented syllables (Viterbi over pair counts)."""
    options = [lex.spellings.get(fold_accents(w)) or ((w, 0),) for w in words]
    # best[j] = (score, path) ending in options[i][j]
    best = [(UNIGRAM_WEIGHT * math.log1p(c), [form]) for form, c in options[0]]
    for i in range(1, len(words)):
        step = []
        for form, c in options[i]:
            own = UNIGRAM_WEIGHT * math.log1p(c)
            score, path = max(((s + math.log1p(lex.pairs.get((p[-1], form), 0)), p) for s, p in best),
                              key=lambda sp: sp[0])
            step.append((score + own, [*path, form]))
        best = step
    return max(best, key=lambda sp: sp[0])[1]


def restore(text: str, lexicon: Lexicon) -> str:
    """The text with diacritics restored where the corpus knows the words; accented words are kept."""
    matches = list(_SYLLABLE.finditer(text))
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(matches):
        if any(ord(ch) > 127 for ch in matches[i].group(0)):
            i += 1
            continue
        j = i
        while j < len(matches) and all(ord(ch) < 128 for ch in matches[j].group(0)):
            j += 1
        run = matches[i:j]
        for m, form in zip(run, _spell([m.group(0) for m in run], lexicon), strict=True):
            out.append(text[pos:m.start()])
            out.append(form[:1].upper() + form[1:] if m.group(0)[:1].isupper() else form)
            pos = m.end()
        i = j
    out.append(text[pos:])
    return "".join(out)

"""Vietnamese-aware lexical index: BM25 (bm25s) over word-segmented and accent-folded tokens."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import unicodedata
from pathlib import Path

import numpy as np

from rag.text.normalize import fold_accents, normalize_text

log = logging.getLogger(__name__)

_WORD_CHAR = re.compile(r"\w", re.UNICODE)
_DOCNUM = re.compile(r"\b\d{1,4}(?:/\d{4})?/[A-Za-zĐđ0-9]+(?:-[A-Za-zĐđ0-9]+)*")
_SPLIT = re.compile(r"[^\w]+", re.UNICODE)
FOLD_PREFIX = "~"


_SEGMENTER_LOCK = threading.Lock()
_segmenter_ready = False


def _segment(text: str) -> list[str]:
    global _segmenter_ready
    from underthesea import word_tokenize  # imported lazily: loads a CRF model on first call

    if not _segmenter_ready:
        # underthesea publishes its model before loading it: a second thread arriving during the first call
        # finds a half-built model (AttributeError). One thread loads it, the others wait.
        with _SEGMENTER_LOCK:
            if not _segmenter_ready:
                word_tokenize("khởi động")
                _segmenter_ready = True
    return word_tokenize(text)


def doc_number_tokens(text: str) -> list[str]:
    """The document numbers (số hiệu) in a normalised, lower-cased text, as index tokens."""
    return [m.group(0).replace("đ", "d") for m in _DOCNUM.finditer(text)]


def word_syllables(word: str) -> list[str]:
    """The syllables of one (segmented) word, none for punctuation."""
    syllables = [s for s in _SPLIT.split(word) if s]
    return syllables if syllables and _WORD_CHAR.search(word) else []


def analyze(text: str, *, segment: bool = True) -> list[str]:
    """Tokens for BM25: segmented words with accents, plus accent-folded syllables (prefixed '~')."""
    text = normalize_text(text).lower()
    tokens: list[str] = doc_number_tokens(text)
    words = _segment(text) if segment else text.split()
    for word in words:
        syllables = word_syllables(word)
        if not syllables:
            continue
        if len(syllables) > 1:
            tokens.append("_".join(syllables))
        for syl in syllables:
            tokens.append(syl)
            folded = fold_accents(syl)
            tokens.append(FOLD_PREFIX + folded)
    return tokens


def analyze_query(text: str) -> list[str]:
    """Query analysis = document analysis (same segmenter), so both sides meet in one vocabulary."""
    return analyze(text)


def is_unaccented(text: str) -> bool:
    """True when a Vietnamese text was typed without diacritics (nothing to fold)."""
    letters = [c for c in unicodedata.normalize("NFC", text) if c.isalpha()]
    return bool(letters) and all(ord(c) < 128 for c in letters)


class LexicalIndex:
    """A BM25 index aligned with a list of chunk ids; owns the bm25s model."""

    def __init__(self, ids: list[str], bm25: object | None) -> None:
        self.ids = ids
        self._bm25 = bm25
        self._pos = {cid: i for i, cid in enumerate(ids)}

    @classmethod
    def build(cls, ids: list[str], token_lists: list[list[str]]) -> LexicalIndex:
        import bm25s

        if not ids:
            return cls([], None)
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        # An empty token list would give bm25s nothing to index for that row; a sentinel keeps rows aligned.
        bm25.index([t or ["\u2205"] for t in token_lists], show_progress=False)
        return cls(ids, bm25)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every indexed chunk (aligned with `ids`)."""
        if self._bm25 is None or not query_tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
        known = [t for t in query_tokens if t in vocab]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)  # type: ignore[attr-defined]

    def position(self, chunk_id: str) -> int | None:
        return self._pos.get(chunk_id)

    def save(self, directory: Path, stamp: str) -> None:
        """Write atomically: a reader never sees a half-written index."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(str(tmp / "bm25"), show_progress=False)  # type: ignore[attr-defined]
        (tmp / "ids.json").write_text(json.dumps({"stamp": stamp, "ids": self.ids}), encoding="utf-8")
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> tuple[LexicalIndex, str] | None:
        """The saved index and its stamp, or None when absent or unreadable."""
        import bm25s

        try:
            info = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
            bm25 = None
            if info["ids"]:
                bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False, verbosity=0)
            return cls(list(info["ids"]), bm25), str(info["stamp"])
        except (OSError, ValueError, KeyError) as exc:
            log.info("lexical index at %s not loadable (%s); it will be rebuilt", directory, exc)
            return None

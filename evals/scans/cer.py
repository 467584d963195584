"""Character error rate of OCR against the source text, and word accuracy on words with tone marks."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from rag.text.normalize import normalize_text

_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def _canon(text: str) -> str:
    """Normalised (NFC, one tone style) with all whitespace as single spaces: layout is not an OCR error."""
    return " ".join(normalize_text(text).split())


def has_tone(word: str) -> bool:
    return any(m in _TONES for m in unicodedata.normalize("NFD", word))


@dataclass(frozen=True)
class OcrScore:
    chars: int
    errors: int
    tone_words: int
    tone_words_right: int

    @property
    def cer(self) -> float:
        return self.errors / max(self.chars, 1)

    @property
    def tone_accuracy(self) -> float:
        return self.tone_words_right / max(self.tone_words, 1)

    def __add__(self, other: OcrScore) -> OcrScore:
        return OcrScore(self.chars + other.chars, self.errors + other.errors, self.tone_words + other.tone_words,
                        self.tone_words_right + other.tone_words_right)


def score(reference: str, ocr: str) -> OcrScore:
    """Edit distance over characters; tone words by aligning the two word sequences."""
    ref, hyp = _canon(reference), _canon(ocr)
    errors = Levenshtein.distance(ref, hyp)
    rw, hw = ref.split(), hyp.split()
    right = 0
    tone_idx = {i for i, w in enumerate(rw) if has_tone(w)}
    for op in Levenshtein.opcodes(rw, hw):
        if op.tag == "equal":
            right += sum(1 for i in range(op.src_start, op.src_end) if i in tone_idx)
    return OcrScore(len(ref), errors, len(tone_idx), right)

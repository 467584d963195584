"""Text normalisation: NFC, one tone-mark placement, whitespace, PDF line-break repair, accent folding."""

from __future__ import annotations

import re
import unicodedata

# Combining marks after NFD: the five tones and the three vowel modifiers.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền, sắc, ngã, hỏi, nặng
_MODIFIERS = frozenset("\u0302\u0306\u031b")  # circumflex (â ê ô), breve (ă), horn (ơ ư)
_VOWELS = frozenset("aeiouy")
_INITIALS = frozenset(
    ["", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n", "ng", "ngh", "nh",
     "p", "ph", "qu", "r", "s", "t", "th", "tr", "v", "x"]
)
_FINALS = frozenset(["", "c", "ch", "m", "n", "ng", "nh", "p", "t"])

_WORD = re.compile(r"[^\W\d_]+")
_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ZERO_WIDTH = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_SPACE_RUN = re.compile(r" {2,}")
_BLANK_RUN = re.compile(r"\n{3,}")
# Lines that must keep their own line in PDF repair: legal headings, numbered items, bullets.
_STRUCTURAL_LINE = re.compile(
    r"(?:Phần|PHẦN|Chương|CHƯƠNG|Mục|MỤC|Điều)\s+\S+|\d+\s?[.)]|[a-zđ]\)|[IVXLC]+\.|[-•*+–]\s"
)
_SENTENCE_END = frozenset(".:;!?…")


def _decompose(ch: str) -> tuple[str, str, str]:
    """Split one letter into (base, modifiers, tone)."""
    nfd = unicodedata.normalize("NFD", ch)
    base, marks = nfd[0], nfd[1:]
    tone = "".join(m for m in marks if m in _TONES)
    mods = "".join(m for m in marks if m in _MODIFIERS)
    return base, mods, tone


def _tone_index(mods: list[str], start: int, end: int, has_final: bool) -> int:
    """Index of the vowel carrying the tone in the nucleus bases[start:end] (traditional placement)."""
    modified = [i for i in range(start, end) if mods[i]]
    if modified:
        return modified[-1]  # ươ → ơ, iê → ê, uô → ô, ưu → ư
    n = end - start
    if n == 1 or has_final:
        return end - 1  # hoàn, toán, huỳnh
    if n == 2:
        return start  # hòa, thủy, mía, mùa
    return start + 1  # ngoài, khuỷu


def _nucleus(lower: str) -> tuple[int, int] | None:
    """(start, end) of the vowel nucleus of a lower-case syllable, None when it is not Vietnamese."""
    first = next((i for i, c in enumerate(lower) if c in _VOWELS), None)
    if first is None:
        return None
    # "qu" and "gi" (before another vowel) belong to the initial consonant.
    before = lower[first - 1 : first + 1] if first > 0 else ""
    if before == "qu" or (before == "gi" and first + 1 < len(lower) and lower[first + 1] in _VOWELS):
        first += 1
    end = first
    while end < len(lower) and lower[end] in _VOWELS:
        end += 1
    if lower[:first] not in _INITIALS or lower[end:] not in _FINALS or not 0 < end - first <= 3:
        return None
    return first, end


def is_syllable(word: str) -> bool:
    """True when word is shaped like one Vietnamese syllable (so "UBND", "José" are not)."""
    base = "".join(_decompose(c)[0] for c in unicodedata.normalize("NFC", word)).lower()
    return bool(base) and base.isalpha() and _nucleus(base) is not None


def canonical_tone(word: str) -> str:
    """Place the tone mark of one Vietnamese syllable on the traditional vowel (hoà→hòa, thuỷ→thủy).

    Words that are not a well-formed Vietnamese syllable (foreign names, acronyms) come back unchanged.
    """
    parts = [_decompose(c) for c in unicodedata.normalize("NFC", word)]
    tones = [t for _, _, t in parts if t]
    if len(tones) != 1 or len(tones[0]) != 1:
        return word
    lower = "".join(b.lower() for b, _, _ in parts)
    span = _nucleus(lower)
    if span is None:
        return word
    target = _tone_index([m for _, m, _ in parts], span[0], span[1], span[1] < len(lower))
    out = []
    for i, (base, mod, _) in enumerate(parts):
        out.append(unicodedata.normalize("NFC", base + mod + (tones[0] if i == target else "")))
    return "".join(out)


def _has_tone(word: str) -> bool:
    return any(m in _TONES for m in unicodedata.normalize("NFD", word))


def _canonical_words(text: str) -> str:
    cache: dict[str, str] = {}  # per call: a law has ~3k distinct words among ~35k

    def fix(m: re.Match[str]) -> str:
        w = m.group(0)
        if w not in cache:
            cache[w] = canonical_tone(w) if _has_tone(w) else w
        return cache[w]

    return _WORD.sub(fix, text)


def _is_syllable_word(fragment: str) -> bool:
    return any(ord(c) > 0x7F for c in fragment)


def _repair_pdf_lines(text: str) -> str:
    """Join lines a PDF broke mid-sentence; keep structural lines on their own line."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        cur = line.strip()
        if out and out[-1] and cur:
            prev = out[-1]
            split_word = prev.endswith("-") and len(prev) > 1 and prev[-2].islower() and cur[0].islower()
            if split_word:
                # A hyphen at a line end between two Vietnamese syllables stands for a space;
                # inside a foreign word it is a split word.
                head = prev[:-1].rsplit(" ", 1)[-1]
                tail = cur.split(" ", 1)[0]
                sep = " " if _is_syllable_word(head) or _is_syllable_word(tail) else ""
                out[-1] = prev[:-1] + sep + cur
                continue
            if cur[0].islower() and prev[-1] not in _SENTENCE_END and not _STRUCTURAL_LINE.match(cur):
                out[-1] = prev + " " + cur
                continue
        out.append(cur)
    return "\n".join(out)


def normalize_text(text: str, *, from_pdf: bool = False) -> str:
    """NFC, canonical tone marks, clean whitespace; with from_pdf, also repair broken lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _canonical_words(text)
    text = "\n".join(_SPACE_RUN.sub(" ", line).strip() for line in text.split("\n"))
    if from_pdf:
        text = _repair_pdf_lines(text)
    text = _BLANK_RUN.sub("\n\n", text)
    return text.strip("\n")


def fold_accents(text: str) -> str:
    """Lower-case and strip diacritics (đ→d) for accent-insensitive matching."""
    nfd = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in nfd if not unicodedata.combining(c)).lower()


def bare_words(text: str) -> str:
    """Accent-folded words joined by single spaces, punctuation dropped ("TP.HCM" → "tp hcm", "Luật Trật tự,
    an toàn" → "luat trat tu an toan"): names compare without their punctuation."""
    return " ".join(re.findall(r"\w+", fold_accents(text)))

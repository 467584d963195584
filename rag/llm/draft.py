"""Post-processing of the model's text: the raw reply made into a draft the verifier can check.

The reply is cleaned (reasoning, markdown emphasis and odd [n] markers normalised away), pruned of what makes
no claim (questions, repeats, text recited from the prompt), cut at its last whole sentence when the token
limit cut it off, and every sentence the model left unmarked gets the [n] of the passage that covers it best.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.verify import (
    LIST_PREFIX,
    MARKER,
    MIN_FUZZY_COVERAGE,
    Source,
    is_framing,
    known_numbers,
    split_claims,
    split_sentences,
)
from rag.text.normalize import fold_accents, normalize_text

_WORD = re.compile(r"\w+", re.UNICODE)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_NAMED_MARKER = re.compile(r"\[(?:nguồn|nguon|source|src|tài liệu|doc)\s*(\d+(?:\s*,\s*\d+)*)\]",
                           re.IGNORECASE)
_RANGE_MARKER = re.compile(r"\[(\d+)\s*[-–]\s*(\d+)\]")
_MARKDOWN = re.compile(r"\*\*|__|^#{1,6}\s+", re.MULTILINE)
ATTACH_COVERAGE = 0.6  # share of a sentence's word pairs a passage sentence must hold to lend its [n]


# ---- post-processing of the model's text ---------------------------------------------------------------


def clean_output(text: str) -> str:
    """Normalise the model's text like the documents; drop reasoning, markdown emphasis, odd markers."""
    text = _THINK.sub("", text)
    text = _NAMED_MARKER.sub(lambda m: f"[{m.group(1)}]", text)
    text = _RANGE_MARKER.sub(
        lambda m: "[" + ", ".join(str(i) for i in range(int(m.group(1)), int(m.group(2)) + 1)) + "]"
        if 0 < int(m.group(2)) - int(m.group(1)) < 10 else m.group(0), text)
    text = _MARKDOWN.sub("", text)
    return normalize_text(text)


def _words(text: str) -> list[str]:
    return [fold_accents(w) for w in _WORD.findall(text)]


def _bigrams(words: Sequence[str]) -> list[tuple[str, str]]:
    return list(zip(words, words[1:], strict=False))


def best_source(sentence: str, sources: Sequence[Source]) -> tuple[int, float] | None:
    """The source whose best passage sentence covers the most of the sentence: (n, bigram coverage).

    Only passage sentences holding at least the verifier's share of the sentence's words count. Bigrams
    decide because single Vietnamese syllables are too common: "pháp luật Việt Nam" alone covers much of
    an unrelated sentence word by word, far less pair by pair.
    """
    claim = _words(MARKER.sub("", sentence))
    if len(claim) < 3:
        return None
    pairs = _bigrams(claim)
    best: tuple[int, float] | None = None
    for src in sources:
        text = src.chunk.text
        for start, end in split_sentences(text):
            words = _words(text[start:end])
            if sum(w in set(words) for w in claim) / len(claim) < MIN_FUZZY_COVERAGE:
                continue
            have = set(_bigrams(words))
            cov = sum(p in have for p in pairs) / len(pairs)
            if best is None or cov > best[1]:
                best = (src.n, cov)
    return best


def attach_markers(text: str, sources: Sequence[Source], threshold: float = ATTACH_COVERAGE) -> str:
    """Give each sentence the model left without [n] the marker of the passage that covers it best.

    Only a passage sentence covering at least `threshold` of the sentence's word pairs qualifies (see
    best_source); lead-in lines ending with ':' stay unmarked. The verifier still checks every marker.
    """
    known = known_numbers(sources)
    out_lines: list[str] = []
    for line in text.split("\n"):
        m = LIST_PREFIX.match(line)
        prefix = line[:m.end()] if m else ""
        pieces = []
        for piece in split_claims(line[len(prefix):]):
            sentence = piece.strip()
            if MARKER.search(sentence) or is_framing(sentence, known):
                pieces.append(sentence)
                continue
            found = best_source(sentence, sources)
            if found and found[1] >= threshold:
                sentence = f"{sentence} [{found[0]}]"
            pieces.append(sentence)
        out_lines.append(prefix + " ".join(pieces))
    return "\n".join(out_lines).strip()


def prune_sentences(text: str, echo: str = "") -> str:
    """Drop what makes no claim: questions, repeats, and text recited from the prompt.

    Small models often recite their instructions or the source labels; `echo` is that prompt text
    (rag.llm.prompt.scaffolding). A sentence goes when it is one of its lines, or three words or more of it.
    """
    echo_lines = {" ".join(_words(MARKER.sub(" ", line))) for line in echo.split("\n")}
    echoed = " " + " ".join(_words(MARKER.sub(" ", echo))) + " "
    seen: set[str] = set()
    out_lines: list[str] = []
    for line in text.split("\n"):
        m = LIST_PREFIX.match(line)
        prefix = line[:m.end()] if m else ""
        kept = []
        for piece in split_claims(line[len(prefix):]):
            body = MARKER.sub("", piece).strip()
            key = " ".join(_words(body))
            recited = key in echo_lines or (key.count(" ") >= 2 and f" {key} " in echoed)
            if body.endswith("?") or (key and key in seen) or recited:
                continue
            seen.add(key)
            kept.append(piece.strip())
        if kept or not line.strip():
            out_lines.append(prefix + " ".join(kept))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out_lines)).strip()


def drop_unfinished(text: str) -> str:
    """Text up to the end of its last complete sentence (for a reply cut off by the token limit)."""
    ends = [m.end() for m in re.finditer(r"(?:[.!?;:…]|\[\d+(?:\s*,\s*\d+)*\])"
                                          r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s|$)|\n", text)]
    return text[:ends[-1]] if ends else ""


def finish_draft(raw: str, sources: Sequence[Source], echo: str = "") -> str:
    """The model's raw text made ready for the verifier: cleaned, pruned, with missing markers attached."""
    return attach_markers(prune_sentences(clean_output(raw), echo), sources)

"""Synthetic copies of real documents for the scale benchmark: varied text, matching tokens, nearby vectors.

Copy k of a document keeps each chunk's heading line and its real Vietnamese clauses, reordered with one
dropped, so BM25 sees realistic postings. Its lexical tokens are the base chunk's stored tokens cut at
clause boundaries and put back together in the copy's order: no word segmentation per copy (it runs only
for the few base chunks whose stored tokens do not line up with their clauses). Its vectors are the base
vectors plus Gaussian noise, renormalised.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag.records import Chunk, StoredDocument, chunk_id
from rag.store.lexical import analyze, doc_number_tokens, word_syllables
from rag.text.normalize import normalize_text

_CLAUSE_END = re.compile(r"(?<=[.;:,!?])\s+(?=\S)")


@dataclass(frozen=True)
class BaseDoc:
    """A real stored document with its chunks, their lexical tokens and their vectors (one row per chunk)."""

    doc: StoredDocument
    chunks: tuple[Chunk, ...]
    tokens: tuple[list[str], ...]
    vectors: np.ndarray


@dataclass(frozen=True)
class Pieces:
    """A chunk's search text cut into context, clauses and footnotes, each with its word tokens."""

    context: list[str]  # word tokens of the context ([] when there is none)
    clauses: tuple[str, ...]
    clause_tokens: tuple[list[str], ...]
    footnotes: list[str]  # word tokens of the cited footnotes
    aligned: bool  # True: cut from the stored tokens; False: the pieces were segmented again


@dataclass(frozen=True)
class Variant:
    doc: StoredDocument
    chunks: list[Chunk]
    tokens: list[list[str]]
    vectors: np.ndarray
    varied: int  # chunks whose text differs from the base chunk's


def split_clauses(text: str) -> list[str]:
    """The first line whole (an article's heading), then the clauses of the others (cut after . ; : , ! ?).

    A one-line chunk (a Khoản) is cut into clauses from its start, so its label ("2.") comes first.
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    head = lines[:1] if len(lines) > 1 else []
    return head + [c.strip() for line in lines[len(head):] for c in _CLAUSE_END.split(line) if c.strip()]


def _join(clauses: Sequence[str]) -> str:
    return "\n".join([*clauses[:1], " ".join(clauses[1:])]) if len(clauses) > 1 else "".join(clauses)


def _syllables(text: str) -> list[str]:
    """The syllables analyze() emits for a text, in order, without segmenting it into words."""
    out: list[str] = []
    for word in normalize_text(text).lower().split():
        out.extend(word_syllables(word))
    return out


def _doc_numbers(text: str) -> list[str]:
    return doc_number_tokens(normalize_text(text).lower())


def _word_groups(tokens: Sequence[str]) -> list[tuple[list[str], list[str]]] | None:
    """(tokens, syllables) of each word after the document-number prefix; None when the shape is unexpected."""
    i = 0
    while i < len(tokens) and "/" in tokens[i]:
        i += 1
    groups: list[tuple[list[str], list[str]]] = []
    while i < len(tokens):
        head = tokens[i]
        n = head.count("_") + 1 if "_" in head and not head.startswith("~") else 0
        if n:  # compound word: "giao_dịch", then (syllable, ~folded) per syllable
            group = list(tokens[i:i + 1 + 2 * n])
            syllables = group[1::2]
            i += 1 + 2 * n
        else:
            group = list(tokens[i:i + 2])
            syllables = group[:1]
            i += 2
        if len(syllables) != max(n, 1) or any(s.startswith("~") for s in syllables):
            return None
        groups.append((group, syllables))
    return groups


def _align(tokens: Sequence[str], pieces: Sequence[str]) -> list[list[str]] | None:
    """Cut stored tokens into one list per piece of the text they came from; None if they do not line up."""
    groups = _word_groups(tokens)
    if groups is None:
        return None
    wanted = [_syllables(p) for p in pieces]
    out: list[list[str]] = [[] for _ in pieces]
    piece, used = 0, 0
    for group, syllables in groups:
        while piece < len(pieces) and used == len(wanted[piece]):
            piece, used = piece + 1, 0
        if piece == len(pieces) or wanted[piece][used:used + len(syllables)] != syllables:
            return None  # a word spans two pieces, or the segmenter saw different syllables
        out[piece].extend(group)
        used += len(syllables)
    if any(len(w) for w in wanted[piece + 1:]) or (piece < len(pieces) and used != len(wanted[piece])):
        return None
    return out


def chunk_pieces(chunk: Chunk, tokens: Sequence[str]) -> Pieces:
    """Cut a base chunk's tokens at its clause boundaries (segmenting again only if they do not line up)."""
    clauses = split_clauses(chunk.text)
    notes = [f"[{f.label}] {f.text}" for f in chunk.footnotes]
    head = [chunk.context] if chunk.context else []
    parts = [*head, *clauses, *notes]
    cut = _align(tokens, parts)
    aligned = cut is not None
    if cut is None:
        cut = [[t for t in analyze(p) if "/" not in t] for p in parts]
    context = cut[0] if head else []
    body = cut[len(head):len(head) + len(clauses)]
    footnotes = [t for part in cut[len(head) + len(clauses):] for t in part]
    return Pieces(context=context, clauses=tuple(clauses), clause_tokens=tuple(body), footnotes=footnotes,
                  aligned=aligned)


def vary_order(n: int, rng: random.Random) -> list[int]:
    """Clause order of a copy: the first (the heading line) stays, the rest are shuffled, one of ≥ 3 dropped."""
    if n <= 1:
        return list(range(n))
    rest = list(range(1, n))
    rng.shuffle(rest)
    if len(rest) >= 2:
        rest.pop()
    return [0, *rest]


def perturb(vectors: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors near the given ones: add Gaussian noise of expected norm `noise`, renormalise."""
    if not len(vectors):
        return vectors
    dim = vectors.shape[1]
    out = vectors + rng.normal(0.0, noise / np.sqrt(dim), size=vectors.shape)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def make_variant(base: BaseDoc, pieces: Sequence[Pieces], k: int, *, limit: int, noise: float, seed: int
                 ) -> Variant:
    """Copy k (k ≥ 1) of a document, its first `limit` chunks: new ids, varied text, matching tokens."""
    doc_id = f"{base.doc.doc_id}-v{k}"
    chunks: list[Chunk] = []
    tokens: list[list[str]] = []
    texts: list[str] = []
    offset, varied = 0, 0
    for base_chunk, p in zip(base.chunks[:limit], pieces[:limit], strict=True):
        order = vary_order(len(p.clauses), random.Random(f"{seed}:{k}:{base_chunk.id}"))
        text = _join([p.clauses[i] for i in order]) if p.clauses else base_chunk.text
        words = [t for i in order for t in p.clause_tokens[i]]
        chunk = replace(base_chunk, doc_id=doc_id, ordinal=len(chunks), text=text, start=offset,
                        end=offset + len(text),
                        id=chunk_id(doc_id, base_chunk.breadcrumb, text))
        tokens.append(_doc_numbers(chunk.search_text()) + p.context + words + p.footnotes)
        chunks.append(chunk)
        texts.append(text)
        varied += text != base_chunk.text
        offset += len(text) + 2
    text = "\n\n".join(texts)
    meta = replace(base.doc.meta, title=f"{base.doc.meta.title} (bản {k})")
    doc = replace(base.doc, doc_id=doc_id, source_key=f"bench:{doc_id}", root="bench", text=text, meta=meta,
                  sha256=hashlib.sha256(text.encode()).hexdigest(), chunk_ids=tuple(c.id for c in chunks))
    rng = np.random.default_rng([seed, k, int(hashlib.sha256(base.doc.doc_id.encode()).hexdigest()[:8], 16)])
    return Variant(doc=doc, chunks=chunks, tokens=tokens, vectors=perturb(base.vectors[:limit], noise, rng),
                   varied=varied)


def replicate(base: Sequence[BaseDoc], pieces: Sequence[Sequence[Pieces]], size: int, *, noise: float,
              seed: int) -> Iterator[Variant]:
    """Documents totalling `size` chunks: the real base first (copy 0, unchanged), then copies 1, 2, …"""
    total = sum(len(b.chunks) for b in base)
    if total == 0:
        raise ValueError("the base store has no chunks")
    left, k = size, 0
    while left > 0:
        for b, p in zip(base, pieces, strict=True):
            take = min(left, len(b.chunks))
            if take == 0:
                break
            if k == 0:
                chunks = b.chunks[:take]
                doc = replace(b.doc, chunk_ids=tuple(c.id for c in chunks))
                yield Variant(doc=doc, chunks=list(chunks), tokens=list(b.tokens[:take]), vectors=b.vectors[:take],
                              varied=0)
            else:
                yield make_variant(b, p, k, limit=take, noise=noise, seed=seed)
            left -= take
        k += 1

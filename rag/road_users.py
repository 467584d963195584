"""Which road users a provision is about, as its article title names them, and which ones a question names,
from the table rag/data/road_users.yaml ("xe máy" is a motorbike, not "xe máy chuyên dùng" nor "xe đạp máy").

Retrieval ranks lower, and the legal composer quotes less readily, a provision whose article is about other
road users than the question names (rag.retrieve, rag.answer.legal_select).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from rag.records import Chunk
from rag.text.normalize import fold_accents

__all__ = ["ROAD_USERS", "RoadUsers", "article_title_text", "asked_road_users", "load_road_users",
           "named_road_users", "other_road_users"]

ROAD_USERS = Path(__file__).parent / "data" / "road_users.yaml"
_NON_WORD = re.compile(r"[^\w]+")


def _words(text: str) -> str:
    return " " + _NON_WORD.sub(" ", fold_accents(text).lower()).strip() + " "


@dataclass(frozen=True)
class RoadUsers:
    """The table as two phrase lists (folded, longest first) and what each generic class stands for."""

    provision: tuple[tuple[str, str], ...]  # (phrase, class)
    question: tuple[tuple[str, str], ...]
    covers: dict[str, frozenset[str]]  # a class → the classes it stands for, itself included


@lru_cache(maxsize=2)
def load_road_users(path: Path = ROAD_USERS) -> RoadUsers:
    """The road users of the table; a malformed table raises ValueError naming the file."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        def table(side: str) -> tuple[tuple[str, str], ...]:
            pairs = {(_words(str(p)), name) for name, c in raw.items() for p in c[side]}
            return tuple(sorted(pairs, key=lambda pc: -len(pc[0])))

        covers = {name: frozenset([name, *c.get("covers", [])]) for name, c in raw.items()}
        return RoadUsers(provision=table("provision"), question=table("question"), covers=covers)
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: each road user needs 'provision' and 'question' phrase lists") from exc


def _classes(text: str, table: Sequence[tuple[str, str]], covers: dict[str, frozenset[str]]) -> frozenset[str]:
    folded = _words(text)
    found: set[str] = set()
    for needle, name in table:  # longest first; a matched span is blanked so shorter phrases skip it
        while needle in folded:
            found |= covers[name]
            folded = folded.replace(needle, " | ", 1)
    return frozenset(found)


@lru_cache(maxsize=256)
def asked_road_users(question: str) -> frozenset[str]:
    """The road users a question names (in everyday words or the law's); retrieval and the legal composer
    both ask for the same question, so it is cached."""
    users = load_road_users()
    return _classes(question, users.question, users.covers)


@lru_cache(maxsize=4096)
def named_road_users(title: str) -> frozenset[str]:
    """The road users an article title names (titles repeat across chunks: cached)."""
    users = load_road_users()
    return _classes(title, users.provision, users.covers)


def article_title_text(chunk: Chunk) -> str:
    """The 'Điều N. Title' line of the chunk's article, from the heading context the chunk carries."""
    if not chunk.article:
        return ""
    head = f"Điều {chunk.article}."
    return next((line for line in [*chunk.context.splitlines(), *chunk.text.splitlines()[:1]]
                 if line.startswith(head)), "")


def other_road_users(chunk: Chunk, asked: frozenset[str]) -> bool:
    """The question names road users and the chunk's article title names others only."""
    if not asked:
        return False
    named = named_road_users(article_title_text(chunk))
    return bool(named) and not (asked & named)

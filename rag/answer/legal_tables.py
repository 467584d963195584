"""The data tables of legal answers: whose act a provision is about (rag/data/roles.yaml) and which short fact a
question asks for (rag/data/facts.yaml), each loaded once and applied to a provision's text.

A role the question does not name, or a required role the provision never names, lowers a provision's score
(rag.answer.legal_select); a fact's pattern finds the verbatim span the answer leads with (rag.answer.legal).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from rag.answer.provision import Line, article_title, chunk_lines, clause_lead
from rag.query import QueryInfo
from rag.records import Chunk
from rag.text.normalize import fold_accents

ROLES = Path(__file__).parents[1] / "data" / "roles.yaml"


@dataclass(frozen=True)
class Role:
    """Whose act a provision is about: the phrases a provision and a question name it by (accent-folded)."""

    provision: tuple[str, ...]
    question: tuple[str, ...]
    required: bool = False  # a question naming it wants a provision naming it
    # phrases that hold a provision phrase without naming whose act it is ("bảo hiểm bắt buộc trách nhiệm dân
    # sự của chủ xe cơ giới" in a rider's clause): removed before looking
    ignore: tuple[str, ...] = ()

    def named_in(self, folded: str) -> bool:
        """The (accent-folded) provision text names this role."""
        for phrase in self.ignore:
            folded = folded.replace(phrase, " ")
        return any(p in folded for p in self.provision)


@lru_cache(maxsize=2)
def load_roles(path: Path = ROLES) -> tuple[Role, ...]:
    """The roles of rag/data/roles.yaml."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return tuple(Role(provision=tuple(fold_accents(p) for p in r["provision"]),
                          question=tuple(fold_accents(p) for p in r["question"]),
                          required=bool(r.get("required", False)),
                          ignore=tuple(fold_accents(p) for p in r.get("ignore", ()))) for r in raw.values())
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: each role needs 'provision' and 'question' phrase lists") from exc


def names_other_role(snapshot: Any, chunk: Chunk, question: str) -> bool:
    """The provision's lead-in names whose act it is, and the question is about someone else."""
    lead = clause_lead(snapshot, chunk)
    lines = [ln.text for ln in chunk_lines(chunk) if not ln.text.startswith("Điều ")]  # not the article title
    first = fold_accents((lead.text if lead else lines[0] if lines else "")[:300])
    asked = fold_accents(question)
    return any(role.named_in(first) and not any(q in asked for q in role.question) for role in load_roles())


def misses_asked_role(snapshot: Any, chunk: Chunk, question: str) -> bool:
    """The question names a required role (a pedestrian) that the provision, its clause's lead-in and its
    article's title never name."""
    asked = fold_accents(question)
    wanted = [role for role in load_roles() if role.required and any(q in asked for q in role.question)]
    if not wanted:
        return False
    lead, title = clause_lead(snapshot, chunk), article_title(snapshot, chunk)
    where = fold_accents(" ".join([chunk.text, lead.text if lead else "", title.text if title else ""]))
    return any(not role.named_in(where) for role in wanted)


ARTICLE_KINDS = Path(__file__).parents[1] / "data" / "article_kinds.yaml"


@dataclass(frozen=True)
class ArticleKind:
    """Articles that do not state the current rule (transitional provisions): their titles' phrases and the
    phrases of a question that asks for them (accent-folded, lower-cased)."""

    title: tuple[str, ...]
    question: tuple[str, ...]


@lru_cache(maxsize=2)
def load_article_kinds(path: Path = ARTICLE_KINDS) -> tuple[ArticleKind, ...]:
    """The article kinds of rag/data/article_kinds.yaml."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return tuple(ArticleKind(title=tuple(fold_accents(p).lower() for p in k["title"]),
                                 question=tuple(fold_accents(p).lower() for p in k["question"]))
                     for k in raw.values())
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: each article kind needs 'title' and 'question' phrase lists") from exc


def unasked_article_kind(snapshot: Any, chunk: Chunk, question: str) -> bool:
    """The chunk's article is of a kind (transitional provisions) the question does not ask for."""
    title = article_title(snapshot, chunk)
    folded = fold_accents(title.text if title else "").lower()
    asked = fold_accents(question).lower()
    return any(any(t in folded for t in kind.title) and not any(q in asked for q in kind.question)
               for kind in load_article_kinds())


FACTS = Path(__file__).parents[1] / "data" / "facts.yaml"


@lru_cache(maxsize=2)
def load_facts(path: Path = FACTS) -> dict[str, tuple[tuple[str, ...], re.Pattern[str]]]:
    """Fact kind → (accent-folded phrases that ask for it, the pattern of its span)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return {k: (tuple(fold_accents(a) for a in v["asked"]), re.compile(v["span"])) for k, v in raw.items()}
    except (AttributeError, KeyError, TypeError, re.error) as exc:
        raise ValueError(f"{path}: each fact needs 'asked' phrases and a 'span' pattern ({exc})") from exc


def _fact_kinds(info: QueryInfo, kinds: frozenset[str]) -> list[str]:
    asked = fold_accents(info.standalone)
    facts = load_facts()
    wanted: list[str] = [k for k in ("fine", "points") if k in kinds]
    wanted += [k for k, (phrases, _) in facts.items() if any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", asked)
                                                             for p in phrases)]
    if "effective" in kinds:
        wanted.append("date")
    return list(dict.fromkeys(wanted))


def fact_span(info: QueryInfo, kinds: frozenset[str], block: Sequence[Line], extras: Sequence[Line]) -> Line | None:
    """The verbatim span stating the fact a short question asks for (an amount, points, an age, a date)."""
    facts = load_facts()
    for kind in _fact_kinds(info, kinds):
        for line in (extras if kind == "points" else block):
            m = facts[kind][1].search(line.text)
            if m and m.end() > m.start():
                span = line.text[m.start():m.end()].strip(" ,;:")
                start = line.start + line.text.index(span, m.start())
                return Line(line.chunk, start, start + len(span))
    return None

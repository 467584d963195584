"""The evaluation dataset: JSONL, one question a line, validated with line numbers in every error."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.records import Turn


class DatasetError(ValueError):
    """A malformed dataset; the message names the file and line."""


@dataclass(frozen=True)
class RelevantRef:
    """A relevant legal unit: a document (title, số hiệu or id) and, optionally, its Điều."""

    doc: str
    article: str | None = None


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    answerable: bool = True
    evidence: tuple[str, ...] = ()
    relevant: tuple[RelevantRef, ...] = ()
    answer_contains: tuple[str, ...] = ()
    history: tuple[Turn, ...] = ()
    tags: tuple[str, ...] = ()  # free labels for slicing the report ("no-diacritics", "english", …)
    as_of: str | None = None  # ISO date the question is asked on (which texts are in force); default today


_KEYS = {"id", "question", "answerable", "evidence", "relevant", "answer_contains", "history", "tags", "as_of"}


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise ValueError(f"{name!r} must be a list of non-empty strings")
    return tuple(value)


def _relevant(value: Any) -> tuple[RelevantRef, ...]:
    if not isinstance(value, list):
        raise ValueError("'relevant' must be a list of {\"doc\": str, \"article\": str} objects")
    refs = []
    for ref in value:
        if not isinstance(ref, dict) or not isinstance(ref.get("doc"), str) or not ref["doc"].strip():
            raise ValueError("every 'relevant' entry needs a non-empty string 'doc'")
        article = ref.get("article")
        if article is not None and not isinstance(article, str | int):
            raise ValueError("'article' must be a string such as \"7\"")
        refs.append(RelevantRef(doc=ref["doc"], article=None if article is None else str(article)))
    return tuple(refs)


def _history(value: Any) -> tuple[Turn, ...]:
    if not isinstance(value, list):
        raise ValueError("'history' must be a list of {\"role\": \"user\"|\"assistant\", \"content\": str}")
    turns = []
    for turn in value:
        if (not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant")
                or not isinstance(turn.get("content"), str)):
            raise ValueError("every 'history' turn needs role 'user' or 'assistant' and a string 'content'")
        turns.append(Turn(role=turn["role"], content=turn["content"]))
    return tuple(turns)


def parse_item(data: Any) -> EvalItem:
    """One validated item from a decoded JSON line (raises ValueError with the reason)."""
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    unknown = set(data) - _KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (allowed: {sorted(_KEYS)})")
    for key in ("id", "question"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ValueError(f"{key!r} must be a non-empty string")
    as_of = data.get("as_of")
    if as_of is not None and (not isinstance(as_of, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", as_of)):
        raise ValueError("'as_of' must be an ISO date string such as \"2024-06-01\"")
    answerable = data.get("answerable", True)
    if not isinstance(answerable, bool):
        raise ValueError("'answerable' must be true or false")
    item = EvalItem(
        id=data["id"], question=data["question"], answerable=answerable,
        evidence=_strings(data.get("evidence", []), "evidence"),
        relevant=_relevant(data.get("relevant", [])),
        answer_contains=_strings(data.get("answer_contains", []), "answer_contains"),
        history=_history(data.get("history", [])), tags=_strings(data.get("tags", []), "tags"), as_of=as_of)
    if item.answerable and not (item.evidence or item.relevant):
        raise ValueError("an answerable question needs 'evidence' or 'relevant' to judge retrieval")
    if not item.answerable and (item.evidence or item.relevant):
        raise ValueError("an unanswerable question cannot have 'evidence' or 'relevant'")
    return item


def load_dataset(path: Path) -> list[EvalItem]:
    """Read and validate a JSONL dataset; blank lines and lines starting with '#' are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read dataset: {exc}") from exc
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            item = parse_item(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
        except ValueError as exc:
            raise DatasetError(f"{path}:{lineno}: {exc}") from exc
        if item.id in seen:
            raise DatasetError(f"{path}:{lineno}: duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise DatasetError(f"{path}: no questions")
    return items

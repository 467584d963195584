"""When is a retrieved or cited passage relevant to a dataset question."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from evals.dataset import EvalItem
from evals.metrics import contains_any, norm_match
from rag.records import Chunk, DocumentMeta


@dataclass(frozen=True)
class Passage:
    """What relevance looks at, whoever retrieved it: text, the names of its document, its Điều."""

    text: str
    doc_names: tuple[str, ...]  # document id, title, số hiệu (any of them may match `relevant[].doc`)
    article: str | None = None
    key: str = ""  # identity for de-duplication in reports (chunk id, or baseline chunk id)


def _norm_number(value: str) -> str:
    return norm_match(value).replace(" ", "").removeprefix("số:").removeprefix("số")


def doc_matches(wanted: str, names: Iterable[str]) -> bool:
    """A dataset `doc` names a document when it equals its id, title or số hiệu (normalised)."""
    w, wn = norm_match(wanted), _norm_number(wanted)
    return any(n and (norm_match(n) == w or _norm_number(n) == wn) for n in names)


def is_relevant(passage: Passage, item: EvalItem) -> bool:
    """Relevant = contains an evidence string, or belongs to a listed document and Điều."""
    if item.evidence and contains_any(passage.text, item.evidence):
        return True
    for ref in item.relevant:
        same_article = ref.article is None or ref.article == passage.article
        if same_article and doc_matches(ref.doc, passage.doc_names):
            return True
    return False


def chunk_passage(chunk: Chunk, meta: DocumentMeta | None) -> Passage:
    """A stored chunk as a Passage: its own text plus the footnotes it cites (not the heading context)."""
    text = "\n".join([chunk.text, *(f.text for f in chunk.footnotes)])
    names = (chunk.doc_id,) + ((meta.title, meta.number or "") if meta else ())
    return Passage(text=text, doc_names=names, article=chunk.article, key=chunk.id)

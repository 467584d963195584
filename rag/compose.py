"""Extractive answers (no LLM): the passage sentences that answer the question, each with its [n]."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.normalize import fold_accents
from rag.evidence import content_terms, passage_terms
from rag.query import QueryInfo
from rag.verify import Source, split_sentences

_ACTOR_VI = re.compile(r"^(?:theo công văn,?\s*)?(.+?)\s+(?:phải|cần|có trách nhiệm|có nhiệm vụ|được đề nghị|"
                       r"được yêu cầu|được giao|làm gì|thực hiện những gì|triển khai những gì|có những nhiệm vụ)",
                       re.IGNORECASE)
_ACTOR_VI_FOLDED = re.compile(r"^(.+?)\s+(?:phai|can|co trach nhiem|co nhiem vu|duoc de nghi|duoc yeu cau|"
                              r"duoc giao|lam gi|thuc hien nhung gi|trien khai nhung gi|co nhung nhiem vu)\b")
_ACTOR_VI_PREFIX = re.compile(r"^(?:nhiệm vụ|trách nhiệm|nhiem vu|trach nhiem)\s+(?:của|cua)\s+(.+?)\s*"
                              r"(?:là gì|la gi|gồm|gom|theo|$)", re.IGNORECASE)
_ACTOR_EN = re.compile(r"^what\s+(?:must|should|does|do|is|are)\s+(?:the\s+)?(.+?)\s+(?:do|required to do|"
                       r"have to do|need to do|responsible for|asked to do|tasked with)\b", re.IGNORECASE)
_ACTOR_EN_PREFIX = re.compile(r"^what\s+are\s+the\s+(?:duties|tasks|responsibilities|obligations)\s+of\s+"
                              r"(?:the\s+)?(.+?)\s*\??$", re.IGNORECASE)
_LEAD_LABEL = re.compile(r"^\s*(?:\d+[.)]|[IVX]+\.)?\s*(.{3,120}?):\s", re.UNICODE)

LEAD = {
    "vi": "Theo các văn bản đã lưu:",
    "en": "According to the stored documents (quoted in Vietnamese):",
}
OBLIGATIONS_LEAD = {
    "vi": "{source} đề nghị {actor}:",
    "en": "{source} asks {actor} to:",
}


def obligations_actor(question: str) -> str | None:
    """The actor X of a 'what must X do' question, if it is one."""
    q = question.strip().rstrip("?").strip()
    for rx in (_ACTOR_VI_PREFIX, _ACTOR_VI, _ACTOR_EN_PREFIX, _ACTOR_EN):
        m = rx.match(q)
        if m and len(m.group(1).split()) <= 12:
            return m.group(1).strip(" ,")
    m = _ACTOR_VI_FOLDED.match(fold_accents(q))
    if m and len(m.group(1).split()) <= 12:
        return q[:len(m.group(1))].strip(" ,")
    return None


def _overlap(terms: Sequence[str], text: str, idf: dict[str, float]) -> float:
    present = passage_terms([text])
    default = max(idf.values(), default=1.0)
    return sum(idf.get("~" + t, default) for t in terms if t in present)


def _doc_label(src: Source) -> str:
    meta = src.meta
    kind = (meta.doc_type or "văn bản").capitalize()
    if meta.number and not meta.number.startswith("/"):
        return f"{kind} {meta.number}"
    return f"{kind} {meta.number}" if meta.number else kind


def compose_obligations(info: QueryInfo, actor: str, sources: Sequence[Source]) -> str | None:
    """Bullets of what the actor must do, from the passage whose lead label names the actor."""
    actor_terms = set(content_terms(actor)) or set(fold_accents(actor).split())
    best: tuple[float, Source, re.Match[str]] | None = None
    for src in sources[:5]:
        m = _LEAD_LABEL.match(src.chunk.text)
        if not m or not actor_terms:
            continue
        label_terms = passage_terms([m.group(1)])
        score = sum(t in label_terms for t in actor_terms) / len(actor_terms)
        if score >= 0.6 and (best is None or score > best[0]):
            best = (score, src, m)
    if best is None:
        return None
    _, src, label = best
    text = src.chunk.text
    lines = [f"- {piece.group(0).strip().rstrip(';.')} [{src.n}]"
             for piece in re.finditer(r"[^.;\n]+[.;]?", text[label.end():])
             if len(piece.group(0).split()) >= 3]
    if not lines:
        return None
    lead = OBLIGATIONS_LEAD[info.language].format(source=_doc_label(src), actor=label.group(1).strip())
    return "\n".join([lead, *lines])


def compose_extractive(info: QueryInfo, sources: Sequence[Source], idf: dict[str, float], *,
                       max_sentences: int = 6, actor: str | None = None) -> str:
    """Pick the sentences that answer the question, in document order per passage, each with [n]."""
    if actor:
        listed = compose_obligations(info, actor, sources)
        if listed:
            return listed
    query_text = info.expanded
    terms = content_terms(query_text)
    scored: list[tuple[float, int, int, Source, tuple[int, int]]] = []
    for rank, src in enumerate(sources[:4]):
        prior = 1.0 / (1.0 + 0.5 * rank)
        for pos, (start, end) in enumerate(split_sentences(src.chunk.text)):
            sentence = src.chunk.text[start:end]
            if len(sentence) < 12:
                continue
            score = _overlap(terms, sentence, idf) * prior
            scored.append((score, rank, pos, src, (start, end)))
    if not scored:
        return ""
    best = max(s[0] for s in scored)
    if best <= 0:
        # No sentence shares a word with the question (e.g. an English question): quote the top passage's lead.
        top = [s for s in scored if s[1] == 0][:2]
        chosen = top
    else:
        chosen = sorted((s for s in scored if s[0] >= 0.45 * best), key=lambda s: -s[0])[:max_sentences]
    chosen.sort(key=lambda s: (s[1], s[2]))
    lines = [LEAD[info.language]]
    for _, _, _, src, (start, end) in chosen:
        sentence = src.chunk.text[start:end].strip()
        lines.append(f"- {sentence} [{src.n}]")
    return "\n".join(lines)

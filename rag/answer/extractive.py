"""Extractive answers (no LLM): the passage sentences that answer the question, each with its [n]."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rag.answer.evidence import content_terms, passage_terms
from rag.answer.verify import Source, split_sentences
from rag.query import QueryInfo, translate_terms
from rag.records import Hit
from rag.text.docnumber import find_doc_references
from rag.text.normalize import fold_accents

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
_LEAD_LABEL = re.compile(r"^[ \t]*(?:\d+[.)]|[-•*][ \t]+)?[ \t]*([^\n:]{3,120}?):\s", re.UNICODE | re.MULTILINE)
_LABEL_WINDOW = 200  # the actor label opens the item, possibly after the section heading
ACTOR_MAX_WORDS = 16  # "Cổng thông tin điện tử tỉnh và trang TTĐT các sở, ban, ngành" is 13

LEAD = {
    "vi": "Theo các văn bản đã lưu:",
    "en": "According to the stored documents (quoted in Vietnamese):",
}
OBLIGATIONS_LEAD = {
    "vi": "{source} đề nghị {actor}:",
    "en": "{source} asks {actor} to:",
}


_ASKS_DUTIES = re.compile(r"\b(lam gi|phai lam|nhiem vu|trach nhiem|thuc hien nhung gi|trien khai nhung gi|"
                          r"de nghi lam|yeu cau lam|what must|what should|what is .* required|what are .* required|"
                          r"responsibilit|duties|tasks|obligations|asked to do)\b")
_QUESTION_WORDS = re.compile(r"\b(nao|gi|ai|sao|bao nhieu|may|which|what|who|how)\b")


def obligations_actor(question: str) -> str | None:
    """The actor X of a 'what must X do' question, if it is one."""
    q = question.strip().rstrip("?").strip()
    if not _ASKS_DUTIES.search(fold_accents(q)):
        return None
    actor = _match_actor(q)
    if actor and not _QUESTION_WORDS.search(fold_accents(actor)):
        return actor
    return None


def _match_actor(q: str) -> str | None:
    for rx in (_ACTOR_VI_PREFIX, _ACTOR_VI, _ACTOR_EN_PREFIX, _ACTOR_EN):
        m = rx.match(q)
        if m and len(m.group(1).split()) <= ACTOR_MAX_WORDS:
            return m.group(1).strip(" ,")
    m = _ACTOR_VI_FOLDED.match(fold_accents(q))
    if m and len(m.group(1).split()) <= ACTOR_MAX_WORDS:
        return q[:len(m.group(1))].strip(" ,")
    return None


def _overlap(terms: Sequence[str], text: str, idf: dict[str, float], unseen: float) -> float:
    present = passage_terms([text])
    return sum(idf.get("~" + t, unseen) for t in terms if t in present)


def _doc_label(src: Source) -> str:
    meta = src.meta
    kind = (meta.doc_type or "văn bản").capitalize()
    if meta.number and not meta.number.startswith("/"):
        return f"{kind} {meta.number}"
    return f"{kind} {meta.number}" if meta.number else kind


def compose_obligations(info: QueryInfo, actor: str, sources: Sequence[Source]) -> str | None:
    """Bullets of what the actor must do, from the passage whose lead label names the actor."""
    actor_terms = _actor_terms(info, actor)
    best: tuple[float, Source, re.Match[str]] | None = None
    for src in sources[:5]:
        m = _LEAD_LABEL.search(src.chunk.text[:_LABEL_WINDOW])
        score = _label_score(src.chunk.text, actor_terms)
        if m and score >= 0.6 and (best is None or score > best[0]):
            best = (score, src, m)
    if best is None:
        return None
    _, src, label = best
    text = src.chunk.text
    body = text[label.end():]
    lines = [f"- {body[a:b].rstrip(';.')} [{src.n}]" for a, b in split_sentences(body)
             if len(body[a:b].split()) >= 3]
    if not lines:
        return None
    lead = OBLIGATIONS_LEAD[info.language].format(source=_doc_label(src), actor=label.group(1).strip())
    return "\n".join([lead, *lines])


# Questions about the document itself, answered from its header or closing block (accent-folded patterns).
_INTENTS: dict[str, tuple[re.Pattern[str], str]] = {
    "signer": (re.compile(r"\b(ai ky|nguoi ky|ky boi|ky ten|ky van ban|ky cong van|who signed|signed by|signer|"
                          r"signatory)"), "closing"),
    "cc": (re.compile(r"\b(noi nhan|nhan cong van|nhan van ban|distribution list|copied to|cc)\b"), "closing"),
    "recipients": (re.compile(r"\b(kinh gui|gui cho|gui den|gui toi|gui ai|gui nhung ai|addressed to|sent to|"
                              r"recipients?)\b"), "header"),
    "issuer": (re.compile(r"\b(co quan nao ban hanh|ai ban hanh|don vi ban hanh|co quan ban hanh|"
                          r"issued by|which agency|who issued|issuing)\b"), "header"),
    "date": (re.compile(r"\b(ngay ban hanh|ban hanh ngay nao|ban hanh khi nao|ngay ky|when was .* (issued|signed)|"
                        r"date of issue|issue date)\b"), "header"),
    "number": (re.compile(r"\b(so hieu|so van ban|so cong van|ky hieu|document number|reference number)\b"),
               "header"),
    "subject": (re.compile(r"\b(trich yeu|ve viec gi|noi dung chinh|subject)\b"), "header"),
}
_LINE_PICK: dict[str, re.Pattern[str]] = {
    "date": re.compile(r"ngày|tháng|năm", re.I),
    "number": re.compile(r"^Số|số:", re.I),
    "subject": re.compile(r"^V/v", re.I),
}
INTENT_LEAD = {
    "vi": {"signer": "Người ký văn bản:", "cc": "Nơi nhận của văn bản:", "recipients": "Văn bản kính gửi:",
           "issuer": "Cơ quan ban hành (phần đầu văn bản):", "date": "Địa danh, ngày tháng ghi trên văn bản:",
           "number": "Số, ký hiệu ghi trên văn bản:", "subject": "Trích yếu của văn bản:"},
    "en": {"signer": "Signed by:", "cc": "Distribution list (Nơi nhận):", "recipients": "Addressed to (Kính gửi):",
           "issuer": "Issuing body (document header):", "date": "Place and date as written on the document:",
           "number": "Number and symbol as written:", "subject": "Subject line (trích yếu):"},
}


# "căn cứ vào văn bản số mấy …, ban hành ngày nào": the number and date of a text it cites (its footnotes),
# not its own header's
_ABOUT_CITED = re.compile(r"\b(can cu vao|can cu van ban|can cu cong van|dan chieu|vien dan|based on which|"
                          r"on the basis of which|which documents? (?:does|did) .* cite)\b")


def metadata_intents(question: str) -> list[str]:
    """Every header/closing field a question asks about ("số hiệu và ngày ban hành": number and date), in
    table order; [] when it names another document or asks about the texts it cites."""
    folded = fold_accents(question)
    if find_doc_references(question) or _ABOUT_CITED.search(folded):
        return []
    return [intent for intent, (rx, _) in _INTENTS.items() if rx.search(folded)]


def metadata_intent(question: str) -> str | None:
    """The first header/closing field a question asks about, if any (not when it names another document)."""
    intents = metadata_intents(question)
    return intents[0] if intents else None


_BLOCKS = frozenset({"header", "closing"})


def promote_structural(info: QueryInfo, hits: Sequence[Any], snapshot: Any) -> list[Any]:
    """Rerank by structure: the header/closing block for document questions, the actor's item for duties."""
    hits = list(hits)
    if not hits:
        return hits
    intent = metadata_intent(info.standalone)
    if intent:
        block = _INTENTS[intent][1]
        present = [h for h in hits if h.chunk.kind == block]
        if present:
            target = present[0]
        else:
            doc_id = hits[0].chunk.doc_id
            ids = [c for c in snapshot.by_doc.get(doc_id, ()) if snapshot.chunks[c].kind == block]
            if not ids:
                return hits
            meta = snapshot.docs[doc_id].meta
            target = Hit(chunk=snapshot.chunks[ids[0]], score=hits[0].score, title=meta.title, number=meta.number)
        return [target, *[h for h in hits if h.chunk.id != target.chunk.id]]
    actor = obligations_actor(info.standalone)
    if actor:
        terms = _actor_terms(info, actor)
        for h in hits[:5]:
            if _label_score(h.chunk.text, terms) >= 0.6:
                return [h, *[x for x in hits if x.chunk.id != h.chunk.id]]
    if hits[0].chunk.kind in _BLOCKS:
        # Not a question about the document itself: a body passage ranks before the header/closing block.
        body = next((i for i, h in enumerate(hits[:3]) if h.chunk.kind not in _BLOCKS), None)
        if body is not None:
            return [hits[body], *[h for i, h in enumerate(hits) if i != body]]
    return hits


def _actor_terms(info: QueryInfo, actor: str) -> set[str]:
    translated = translate_terms(actor) if info.language == "en" else ""
    return set(content_terms(translated or actor)) or set(fold_accents(actor).split())


def _label_score(text: str, actor_terms: set[str]) -> float:
    m = _LEAD_LABEL.search(text[:_LABEL_WINDOW])
    if not m or not actor_terms:
        return 0.0
    label_terms = passage_terms([m.group(1)])
    return sum(t in label_terms for t in actor_terms) / len(actor_terms)


def asks_about_document(question: str, hits: Sequence[Any]) -> bool:
    """True when the question asks for a header/closing field and that block was retrieved."""
    intent = metadata_intent(question)
    if not intent:
        return False
    return any(h.chunk.kind == _INTENTS[intent][1] for h in hits)


def _block_lines(src: Source, intent: str) -> list[tuple[int, int]]:
    """Sentence spans of a header/closing block that answer the intent."""
    text = src.chunk.text
    spans = split_sentences(text, lines_only=True)
    if intent == "signer":
        # After the Nơi nhận list: the signing title lines and the name.
        tail = text.rfind("\n-")
        tail = text.find("\n", tail + 1) if tail >= 0 else 0
        return [s for s in spans if s[0] > tail]
    if intent in ("cc", "recipients"):
        label = "Nơi nhận" if intent == "cc" else "Kính gửi"
        at = text.find(label)
        if at < 0:
            return []
        items = [s for s in spans if s[0] > at and text[s[0]:s[1]].rstrip(";.") and
                 text[max(0, text.rfind("\n", 0, s[0]) + 1):s[0]].lstrip().startswith(("-", "•", "+"))]
        inline = [s for s in spans if s[0] > at and s[0] < text.find("\n", at) > 0]
        return items or inline
    if intent == "issuer":
        stop = text.find("CỘNG HÒA")
        return [s for s in spans if stop < 0 or s[1] <= stop][:3]
    pick = _LINE_PICK[intent]
    return [s for s in spans if pick.search(text[s[0]:s[1]])][:2]


def compose_metadata(info: QueryInfo, intent: str, sources: Sequence[Source]) -> str | None:
    """Answer a question about the document itself by quoting its header or closing lines."""
    block = _INTENTS[intent][1]
    for src in sources:
        if src.chunk.kind != block:
            continue
        spans = _block_lines(src, intent)
        if spans:
            lines = [INTENT_LEAD[info.language][intent]]
            lines += [f"- {src.chunk.text[a:b].rstrip(';')} [{src.n}]" for a, b in spans]
            return "\n".join(lines)
    return None


def compose_extractive(info: QueryInfo, sources: Sequence[Source], idf: dict[str, float], *,
                       max_sentences: int = 6, actor: str | None = None, unseen: float | None = None) -> str:
    """Pick the sentences that answer the question, in document order per passage, each with [n]."""
    unseen = unseen if unseen is not None else max(idf.values(), default=1.0)
    quoted = [q for q in (compose_metadata(info, i, sources) for i in metadata_intents(info.standalone)) if q]
    if quoted:
        return "\n".join(quoted)
    if actor:
        listed = compose_obligations(info, actor, sources)
        if listed:
            return listed
    query_text = info.expanded
    terms = content_terms(query_text)
    scored: list[tuple[float, int, int, Source, tuple[int, int]]] = []
    for rank, src in enumerate(sources[:4]):
        # Header and closing lines share many words with any question about "the công văn".
        prior = (0.4 if src.chunk.kind in _BLOCKS else 1.0) / (1.0 + 0.5 * rank)
        for pos, (start, end) in enumerate(split_sentences(src.chunk.text)):
            sentence = src.chunk.text[start:end]
            if len(sentence) < 12:
                continue
            score = _overlap(terms, sentence, idf, unseen) * prior
            scored.append((score, rank, pos, src, (start, end)))
    if not scored:
        return ""
    best = max(s[0] for s in scored)
    if best <= 0:
        # No sentence shares a word with the question (e.g. an English question): quote the top passage's lead.
        top = [s for s in scored if s[1] == 0][:2]
        chosen = top
    else:
        chosen = sorted((s for s in scored if s[0] >= 0.6 * best), key=lambda s: -s[0])[:max_sentences]
    chosen.sort(key=lambda s: (s[1], s[2]))
    lines = [LEAD[info.language]]
    for _, _, _, src, (start, end) in chosen:
        sentence = src.chunk.text[start:end].strip()
        lines.append(f"- {sentence} [{src.n}]")
    return "\n".join(lines)

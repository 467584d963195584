"""How well the retrieved passages cover the question: the signal behind abstention and sentence choice."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rag.query import expand_abbreviations
from rag.text.normalize import fold_accents

# Question words and function words that say nothing about the content asked for (accent-folded).
STOPWORDS = frozenset("""
gi nao ai bao nhieu la cua va cac nhung co khong duoc cho ve trong theo thi sao nhu the phai lam hay biet nay
do day kia o tai tu den voi mot hai ba vay vi khi ra len xuong chi can nen roi da dang se con a nhe u ban van
ho hoi viec dieu nguoi it hon nhat rat qua moi tung gom what which who whom whose when where why how is are
does did must should of to in for and an about by on this that they their was were be with according dispatch
document documents say says said any there could would will please tell me us much many under can if
or have has get s
""".split())

_WORD = re.compile(r"\w+", re.UNICODE)
# Questions that need a specific kind of fact: when no retrieved passage holds one, the documents do not
# answer, however many words they share with the question. (asked: accent-folded question; held: passages)
NEEDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "money": (re.compile(r"\b(muc phat|phat bao nhieu|bao nhieu tien|tien phat|luong|kinh phi|ngan sach|chi phi|"
                         r"fine|fined|salary|wage|budget|cost|how much money|penalt)", re.I),
              re.compile(r"(\d[\d.,]*\s*(?:đồng|vnđ|vnd|triệu|tỷ|nghìn|\$|usd)|phạt tiền|mức lương|"
                         r"hệ số lương|kinh phí|ngân sách|dự toán)", re.I)),
    "percent": (re.compile(r"\b(ty le|bao nhieu phan tram|phan tram|muc dong|percent|percentage|rate)\b", re.I),
                re.compile(r"(%|phần trăm|tỷ lệ)", re.I)),
    "phone": (re.compile(r"\b(so dien thoai|duong day nong|hotline|phone|telephone)\b", re.I),
              re.compile(r"(điện thoại|đường dây nóng|hotline|\d{3,4}[ .]?\d{3}[ .]?\d{3,4})", re.I)),
    "deadline": (re.compile(r"\b(thoi han|han chot|han cuoi|truoc ngay nao|deadline|due date|by when|"
                            r"bao gio phai|khi nao phai|han nop|hang thang|hang quy|dinh ky|periodic|monthly)", re.I),
                 re.compile(r"(thời hạn|trước ngày|chậm nhất|hạn chót|trong vòng \d+|hằng tháng|hằng quý|"
                            r"định kỳ)", re.I)),
    "effective": (re.compile(r"\b(hieu luc|co hieu luc|take effect|effective|in force)\b", re.I),
                  re.compile(r"(hiệu lực)", re.I)),
    "rank": (re.compile(r"\b(hang may|xep hang may|xep loai|tier|bac may|ranked)\b", re.I),
             re.compile(r"(tier|hạng \d|bậc \d|nhóm \d|xếp hạng \d)", re.I)),
    "sanction": (re.compile(r"\b(ky luat|xu phat|che tai|bi xu ly|disciplin|sanction|punish)", re.I),
                 re.compile(r"(kỷ luật|xử phạt|chế tài|truy cứu)", re.I)),
}
_COUNT = re.compile(r"\b(?:how many|bao nhieu|may)\s+([a-z]+(?:\s+[a-z]+)?)", re.I)
# With diacritics "mấy" (how many) and "máy" (machine, as in "xe máy") differ: fold only after matching.
_COUNT_ACCENTED = re.compile(r"(?<!\w)(?:how many|bao nhiêu|mấy)\s+(\w+(?:\s+\w+)?)", re.I)
_NUMBER_THEN_WORDS = r"\d+\s+(?:\w+\s+){0,3}?"


def _count_supported(question: str, joined_folded: str, translate: Any) -> bool:
    """'How many X' / 'bao nhiêu X': some passage writes a number followed closely by X."""
    accented = any(ord(c) > 127 for c in question)
    m = _COUNT_ACCENTED.search(question.lower()) if accented else _COUNT.search(fold_accents(question))
    if not m:
        return True
    noun = fold_accents(m.group(1))
    if noun.split()[0] in STOPWORDS and len(noun.split()) == 1:
        return True
    if re.fullmatch(r"[a-z ]+", noun) and translate is not None and re.search(r"\bhow many\b", m.group(0)):
        vi = translate(noun)
        if not vi:
            return False  # an English noun we cannot map to the documents cannot be counted in them
        noun = fold_accents(vi.split()[0]) if vi else noun
    head = noun.split()[0]
    return re.search(_NUMBER_THEN_WORDS + re.escape(head), joined_folded) is not None


def content_terms(text: str) -> list[str]:
    """Accent-folded content syllables of a question, stopwords removed, in order, unique."""
    words = [fold_accents(w) for w in _WORD.findall(text)]
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS and len(w) > 1 or w.isdigit()))


def passage_terms(texts: Iterable[str]) -> set[str]:
    """Folded syllables of passages, with their abbreviations expanded (UBND ↔ Ủy ban nhân dân)."""
    terms: set[str] = set()
    for text in texts:
        terms.update(fold_accents(w) for w in _WORD.findall(expand_abbreviations(text)))
    return terms


def coverage(question_terms: list[str], passage: set[str], idf: dict[str, float],
             unseen: float | None = None) -> float:
    """IDF-weighted share of the question's content terms found in the passages (0..1)."""
    if not question_terms:
        return 0.0
    default = unseen if unseen is not None else max(idf.values(), default=1.0)
    weights = {t: idf.get("~" + t, default) for t in question_terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in passage) / total if total else 0.0


def missing_need(question: str, passages: Iterable[str], translate: Any = None) -> str | None:
    """The kind of fact the question needs and no passage holds ('money', 'deadline', …), else None."""
    folded = fold_accents(question)
    texts = list(passages)
    joined = "\n".join(texts)
    for need, (asks, has) in NEEDS.items():
        if asks.search(folded) and not has.search(joined):
            return need
    if not _count_supported(question, fold_accents(joined), translate):
        return "count"
    return None

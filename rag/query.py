"""Query understanding: normalisation, language, abbreviations, exact references, follow-up rewriting."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from rag.records import Turn
from rag.text.docnumber import find_doc_references
from rag.text.normalize import fold_accents, normalize_text
from rag.text.vocabulary import equivalents, expansions

# Administrative abbreviations and their expansions (both directions are used).
ABBREVIATIONS: dict[str, str] = {
    "UBND": "Ủy ban nhân dân",
    "HĐND": "Hội đồng nhân dân",
    "BHXH": "Bảo hiểm xã hội",
    "BHYT": "Bảo hiểm y tế",
    "TTĐT": "thông tin điện tử",
    "BDBP": "Bộ đội Biên phòng",
    "BĐBP": "Bộ đội Biên phòng",
    "NĐ-CP": "Nghị định của Chính phủ",
    "TT-BTTTT": "Thông tư của Bộ Thông tin và Truyền thông",
    "BTTTT": "Bộ Thông tin và Truyền thông",
    "STTTT": "Sở Thông tin và Truyền thông",
    "QH": "Quốc hội",
    "QĐ": "Quyết định",
    "CP": "Chính phủ",
    "TTg": "Thủ tướng Chính phủ",
    "TTATGT": "trật tự, an toàn giao thông",
    "ATGT": "an toàn giao thông",
    "VH-TT": "Văn hóa - Thông tin",
    "CNTT": "công nghệ thông tin",
    "PT-TH": "Phát thanh – Truyền hình",
    "PTTH": "Phát thanh – Truyền hình",
    "LHPN": "Liên hiệp Phụ nữ",
    "TTĐN": "Thông tin đối ngoại",
    "BCĐ": "Ban Chỉ đạo",
    "TIP": "buôn người",
    "TP": "thành phố",
    "MTTQ": "Mặt trận Tổ quốc",
    "TAND": "Tòa án nhân dân",
    "VKSND": "Viện kiểm sát nhân dân",
    "CAND": "Công an nhân dân",
}

GLOSSARY = Path(__file__).parent / "data" / "glossary.yaml"  # English terms → the documents' Vietnamese


@lru_cache(maxsize=2)
def glossary(path: Path = GLOSSARY) -> tuple[tuple[str, str], ...]:
    """(English, Vietnamese) pairs, longest English first; a malformed file raises ValueError naming it."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
                                            for k, v in raw.items()):
        raise ValueError(f"{path}: expected English term → Vietnamese words")
    pairs = {normalize_text(k).lower(): normalize_text(v) for k, v in raw.items()}
    return tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0])))

_EN_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "the", "is", "are", "does",
             "do", "did", "must", "should", "of", "to", "in", "for", "and", "a", "an", "about", "by", "on",
             "this", "that", "it", "they", "their", "was", "were", "be", "with", "according", "dispatch"}
_VI_ASCII_WORDS = {"cua", "la", "gi", "nao", "cac", "nhung", "ve", "trong", "duoc", "thi", "sao", "ai", "bao",
                   "nhieu", "co", "khong", "phai", "lam", "cho", "va", "nguoi", "van", "ban", "theo", "tinh",
                   "huyen", "cong", "luat", "dieu", "khoan", "nam", "ngay", "thang", "so", "muc"}

_ARTICLE = re.compile(r"(?:(?:điểm|diem)\s+([a-zđ])\s*,?\s*)?(?:(?:khoản|khoan)\s+(\d+)\s*,?\s*)?"
                      r"(?:điều|dieu)\s+(\d+)", re.IGNORECASE)
_FOLLOWUP_VI = re.compile(r"^\s*(?:thế\s+|vậy\s+|the\s+|vay\s+)?(?:còn|con)\s+(.+?)\s*(?:thì\s+sao|thi\s+sao|"
                          r"thì\s+thế\s+nào|thi\s+the\s+nao|thì\s+sao\s+ạ|nữa)?\s*[?.!]*\s*$", re.IGNORECASE)
_FOLLOWUP_EN = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(.+?)\s*[?.!]*\s*$", re.IGNORECASE)
_SUBJECT_PRED = re.compile(r"^(.+?)\s+((?:phải|cần|có trách nhiệm|có nhiệm vụ|được đề nghị|được yêu cầu|"
                           r"được giao|làm gì|thực hiện|must|should|is required|are required|need)\b.*)$",
                           re.IGNORECASE)
_QUESTION_WORD = re.compile(r"\b(nao|gi|ai|bao nhieu|may|khi nao|bao gio|which|what|who|when|how)\b")
_PRONOUNS = re.compile(r"\b(?:đó|này|ấy|nó|họ|văn bản đó|it|they|them|that|this|those)\b", re.IGNORECASE)
# A follow-up that leans on the previous question ("Thế có bị trừ điểm không?", "Vậy nếu gây tai nạn?").
_LEANS = re.compile(r"^\s*(?:thế|vậy|thì|còn|nếu|và|the|vay|thi|con|neu|va|and|so|then|if)\b", re.IGNORECASE)
LEANING_MAX_WORDS = 12
FOLLOWUP_CLASSES = Path(__file__).parent / "data" / "followup_classes.yaml"


@lru_cache(maxsize=2)
def followup_classes(path: Path = FOLLOWUP_CLASSES) -> tuple[tuple[str, ...], ...]:
    """Peer words by class, longest first, NFC lower case."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not all(isinstance(v, list) and v for v in raw.values()):
        raise ValueError(f"{path}: expected class name → list of words")
    return tuple(tuple(sorted({normalize_text(w).lower() for w in words}, key=len, reverse=True))
                 for words in raw.values())


def swap_peer(previous: str, subject: str) -> str | None:
    """The previous question with its peer of the subject replaced by it ("xe máy" → "ô tô"), else None."""
    folded_subject = fold_accents(subject)
    for words in followup_classes():
        new = next((w for w in words if _contains_word(folded_subject, fold_accents(w))), None)
        if new is None:
            continue
        for old in words:
            m = re.search(rf"(?<![\w-]){re.escape(fold_accents(old))}(?![\w-])", fold_accents(previous))
            if m and fold_accents(old) != fold_accents(new):
                word = new[:1].upper() + new[1:] if m.start() == 0 else new
                return previous[:m.start()] + word + previous[m.end():]
    return None


@dataclass(frozen=True)
class QueryInfo:
    """What the question is and what it points at."""

    original: str
    standalone: str  # after follow-up rewriting; what retrieval uses
    language: str  # "vi" | "en"
    expanded: str  # standalone + abbreviation/glossary expansions, for lexical search
    numbers: tuple[str, ...]  # normalised document numbers named in the question
    article: str | None  # "Điều N"
    clause: str | None  # "khoản N"
    point: str | None  # "điểm a"
    unaccented: bool
    # vocabulary phrases in the question (as written) with the other side's phrases, found once here
    equivalents: tuple[tuple[str, tuple[str, ...]], ...] = ()


def detect_language(text: str) -> str:
    """'en' for English questions, else 'vi' (Vietnamese typed with or without diacritics)."""
    words = re.findall(r"[A-Za-zÀ-ỹđĐ']+", text)
    if not words:
        return "vi"
    lower = [w.lower() for w in words]
    en = sum(w in _EN_WORDS for w in lower)
    if any(ord(c) > 127 and c.isalpha() for c in text):
        # Vietnamese, unless an English question quotes a Vietnamese term ("What is an expressway (đường
        # cao tốc)?"): more English function words than words with Vietnamese letters.
        vietnamese = sum(any(ord(c) > 127 for c in w) for w in words)
        return "en" if en >= 2 and en > vietnamese else "vi"
    vi = sum(w in _VI_ASCII_WORDS for w in lower)
    return "en" if en > vi else "vi"


def _contains_word(folded_text: str, folded_word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(folded_word)}(?![\w-])", folded_text) is not None


def expand_abbreviations(text: str) -> str:
    """Append expansions of abbreviations found in the text, and abbreviations of expansions found."""
    folded = fold_accents(text)
    extra: list[str] = []
    for abbr, full in ABBREVIATIONS.items():
        fa, ff = fold_accents(abbr), fold_accents(full)
        if _contains_word(folded, fa) and ff not in folded:
            extra.append(full)
        elif ff in folded and not _contains_word(folded, fa):
            extra.append(abbr)
    return " ".join([text, *extra]) if extra else text


@lru_cache(maxsize=1)
def _glossary_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """The glossary's English terms compiled once, on word boundaries, longest first."""
    return tuple((re.compile(rf"\b{re.escape(en)}\b"), vi) for en, vi in glossary())


def translated_phrases(text: str) -> list[str]:
    """Vietnamese equivalents of the English terms found in the text, one per term, without repeats."""
    lower = text.lower()
    return list(dict.fromkeys(vi for pattern, vi in _glossary_patterns() if pattern.search(lower)))


def translate_terms(text: str) -> str:
    """Vietnamese equivalents of English terms found in the text (empty when none)."""
    return " ".join(translated_phrases(text))


def untranslated(text: str) -> str:
    """The text without the English terms the glossary translates ("fine for running a red light" → "for
    running a"): what is left to find in the passages as written."""
    lower = text.lower()
    for pattern, _vi in _glossary_patterns():
        lower = pattern.sub(" ", lower)
    return lower


def condense(question: str, history: Sequence[Turn]) -> str:
    """Turn a follow-up into a standalone question using only words from the conversation."""
    previous = [t.content for t in history if t.role == "user" and t.content.strip()]
    if not previous:
        return question
    prev = normalize_text(previous[-1])
    m = _FOLLOWUP_VI.match(question) or _FOLLOWUP_EN.match(question)
    if m:
        new_subject = m.group(1).strip(" ,")
        if _QUESTION_WORD.search(fold_accents(new_subject)):
            return new_subject[0].upper() + new_subject[1:] + ("" if new_subject.endswith("?") else "?")
        sp = _SUBJECT_PRED.match(prev.rstrip("?.! "))
        if sp:
            return f"{new_subject} {sp.group(2)}?"
        swapped = swap_peer(prev, new_subject)
        return swapped if swapped is not None else f"{new_subject}: {prev}"
    if len(question.split()) <= 4 or _PRONOUNS.search(question) or (
            _LEANS.match(question) and len(question.split()) <= LEANING_MAX_WORDS):
        return f"{question} ({prev})"
    return question


def understand(question: str, history: Sequence[Turn] = ()) -> QueryInfo:
    """Normalise the question, rewrite a follow-up, detect references and language, expand terms."""
    q = normalize_text(question).strip()
    standalone = condense(q, history)
    language = detect_language(q)
    expanded = expand_abbreviations(standalone)
    said = expansions(standalone, to_law_only=True)  # people's words → the law's words
    if said:
        expanded = " ".join([expanded, *said])
    if language == "en":
        expanded = " ".join(filter(None, [expanded, translate_terms(standalone)]))
    numbers = tuple(dict.fromkeys(r.number for r in find_doc_references(standalone)))
    m = _ARTICLE.search(standalone)
    letters = [c for c in standalone if c.isalpha()]
    return QueryInfo(original=q, standalone=standalone, language=language, expanded=expanded, numbers=numbers,
                     article=m.group(3) if m else None, clause=m.group(2) if m else None,
                     point=m.group(1) if m else None,
                     unaccented=bool(letters) and all(ord(c) < 128 for c in letters),
                     equivalents=tuple(equivalents(standalone)))

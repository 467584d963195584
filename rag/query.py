"""Query understanding: normalisation, language, abbreviations, exact references, follow-up rewriting."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.docnumber import find_doc_references
from ingest.normalize import fold_accents, normalize_text
from rag.types import Turn

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

# English terms → Vietnamese, so an English question also meets the Vietnamese lexical index.
GLOSSARY: dict[str, str] = {
    "human rights": "quyền con người nhân quyền", "rights": "quyền", "right": "quyền",
    "human trafficking": "mua bán người buôn người",
    "trafficking": "mua bán người buôn người", "press": "báo chí", "newspaper": "báo chí",
    "media": "báo chí truyền thông", "district": "huyện", "districts": "huyện", "province": "tỉnh",
    "provincial": "tỉnh", "people's committee": "Ủy ban nhân dân", "people's committees": "Ủy ban nhân dân",
    "portal": "cổng thông tin điện tử", "website": "trang thông tin điện tử", "radio": "phát thanh",
    "television": "truyền hình", "broadcast": "phát thanh truyền hình", "religious freedom": "tự do tôn giáo",
    "religion": "tôn giáo", "social insurance": "bảo hiểm xã hội", "road": "đường bộ",
    "traffic": "giao thông", "archives": "lưu trữ", "archive": "lưu trữ", "law": "luật", "laws": "luật",
    "national assembly": "Quốc hội", "dispatch": "công văn", "circular": "thông tư", "decree": "nghị định",
    "signed": "ký", "signer": "người ký", "sign": "ký", "recipients": "kính gửi nơi nhận",
    "propaganda": "tuyên truyền", "information": "thông tin", "foreign": "đối ngoại",
    "external information": "thông tin đối ngoại", "victims": "nạn nhân", "victim": "nạn nhân",
    "report": "báo cáo", "children": "trẻ em", "child": "trẻ em", "dialogue": "đối thoại",
    "border guard": "Bộ đội Biên phòng", "police": "cảnh sát", "women": "phụ nữ", "fanpage": "fanpage",
    "social media": "mạng xã hội", "social networks": "mạng xã hội", "fine": "phạt", "penalty": "xử phạt",
    "deadline": "thời hạn", "salary": "lương", "budget": "kinh phí ngân sách", "must": "phải",
    "department": "Sở", "information and communications": "Thông tin và Truyền thông",
    "avoid": "tránh", "public": "người dân", "people": "người dân", "handling": "xử lý", "handle": "xử lý",
    "violators": "vi phạm", "violations": "vi phạm", "law violators": "đối tượng vi phạm pháp luật",
    "partners": "đối tác", "annual": "thường niên", "dialogues": "đối thoại", "vietnam": "Việt Nam",
    "women's union": "Hội Liên hiệp Phụ nữ", "union": "Hội", "provide": "cung cấp", "amended": "sửa đổi",
    "citizens": "công dân", "access": "tiếp cận", "persons": "người", "short messages": "thông điệp ngắn",
    "messages": "thông điệp", "civil servants": "cán bộ công chức", "staff": "cán bộ", "news": "tin tức",
    "achievements": "thành tựu", "efforts": "nỗ lực", "false": "sai sự thật", "refute": "phản bác",
    "online": "mạng xã hội", "published": "công bố", "state department": "Bộ Ngoại giao",
    "constructive": "xây dựng", "spirit": "tinh thần", "draft": "dự thảo", "committee": "Ủy ban",
    "committees": "Ủy ban", "kon tum": "Kon Tum", "australia": "Australia", "eu": "EU",
    "european union": "Liên minh Châu Âu", "journal": "tạp chí", "magazine": "tạp chí",
}

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


def detect_language(text: str) -> str:
    """'en' for English questions, else 'vi' (Vietnamese typed with or without diacritics)."""
    words = re.findall(r"[A-Za-zÀ-ỹđĐ']+", text)
    if not words:
        return "vi"
    if any(ord(c) > 127 and c.isalpha() for c in text):
        return "vi"
    lower = [w.lower() for w in words]
    en = sum(w in _EN_WORDS for w in lower)
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


def translate_terms(text: str) -> str:
    """Vietnamese equivalents of English terms found in the text (empty when none)."""
    lower = text.lower()
    found = [vi for en, vi in sorted(GLOSSARY.items(), key=lambda kv: -len(kv[0]))
             if re.search(rf"\b{re.escape(en)}\b", lower)]
    return " ".join(dict.fromkeys(found))


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
        return f"{new_subject}: {prev}"
    if len(question.split()) <= 4 or _PRONOUNS.search(question):
        return f"{question} ({prev})"
    return question


def understand(question: str, history: Sequence[Turn] = ()) -> QueryInfo:
    """Normalise the question, rewrite a follow-up, detect references and language, expand terms."""
    q = normalize_text(question).strip()
    standalone = condense(q, history)
    language = detect_language(q)
    expanded = expand_abbreviations(standalone)
    if language == "en":
        expanded = " ".join(filter(None, [expanded, translate_terms(standalone)]))
    numbers = tuple(dict.fromkeys(r.number for r in find_doc_references(standalone)))
    m = _ARTICLE.search(standalone)
    letters = [c for c in standalone if c.isalpha()]
    return QueryInfo(original=q, standalone=standalone, language=language, expanded=expanded, numbers=numbers,
                     article=m.group(3) if m else None, clause=m.group(2) if m else None,
                     point=m.group(1) if m else None,
                     unaccented=bool(letters) and all(ord(c) < 128 for c in letters))

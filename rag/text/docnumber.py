"""Vietnamese document numbers (số hiệu) and dates: recognise, normalise, cross-check."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rag.records import DocReference
from rag.text.normalize import fold_accents

# number/[year/]SYMBOL: "36/2024/QH15", "168/2024/NĐ-CP", "652/TTĐN-NVĐP"; the number may be blank
# ("Số: /STTTT-TTBCXB"). A symbol starts with a letter, so dates such as 30/7/2024 never match.
_NUMBER = re.compile(
    r"(?<![\w/.])(?:(?P<num>\d{1,5})\s?)?/\s?(?:(?P<year>(?:19|20)\d{2})\s?/\s?)?"
    r"(?P<sym>[^\W\d_][\w&]{0,15}(?:-[\w&]{1,15}){0,4})(?![\w/])"
)
_SO_BEFORE = re.compile(r"[Ss][ốỐ](?:\s+hiệu)?\s*:?\s*$")

# Symbol parts whose canonical spelling has Đ (or mixed case), keyed by their folded upper-case form;
# used only when the input was typed without diacritics.
_KNOWN_PARTS = {
    "ND": "NĐ",
    "QD": "QĐ",
    "HDND": "HĐND",
    "TTDN": "TTĐN",
    "NVDP": "NVĐP",
    "TTG": "TTg",
    "TTR": "TTr",
    "BGDDT": "BGDĐT",
    "BLDTBXH": "BLĐTBXH",
    "BKHDT": "BKHĐT",
    "BCD": "BCĐ",
    "VPQH": "VPQH",
    "BTTTT": "BTTTT",
}
# Leading symbol part → loại văn bản. "QH15" is left open: luật or nghị quyết, decided by the title.
# Loại văn bản that are legal texts (organised in Điều/Khoản/Điểm), lower case.
LEGAL_TYPES = frozenset({"luật", "bộ luật", "hiến pháp", "pháp lệnh", "nghị định", "nghị quyết", "thông tư",
                         "thông tư liên tịch", "quyết định"})
_TYPE_CODES = {
    "NĐ": "nghị định",
    "TT": "thông tư",
    "TTLT": "thông tư liên tịch",
    "QĐ": "quyết định",
    "CT": "chỉ thị",
    "NQ": "nghị quyết",
    "KH": "kế hoạch",
    "TB": "thông báo",
    "BC": "báo cáo",
    "HD": "hướng dẫn",
    "CĐ": "công điện",
    "TTr": "tờ trình",
    "CV": "công văn",
}
_LEGISLATURE = re.compile(r"(?:UBTV)?QH\d+$")

_DATE_WORDS = re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})", re.IGNORECASE)
_DATE_SLASH = re.compile(r"(?<![\d/])(\d{1,2})[/.-](\d{1,2})[/.-]((?:19|20)\d{2})(?![\d/])")
# A date written right after a cited number: "03/2019/TT-BTTTT ngày 06/5/2024".
_DATE_AFTER = re.compile(
    r"\s*,?\s*(?:ban hành\s+)?ngày\s+(?P<d>\d{1,2}\s+tháng\s+\d{1,2}\s+năm\s+\d{4}|\d{1,2}/\d{1,2}/\d{4})",
    re.IGNORECASE,
)


def _canonical_part(part: str) -> str:
    up = part.upper()
    folded = fold_accents(up).upper()
    known = _KNOWN_PARTS.get(folded)
    if known is None:
        return up
    if up == folded or up == known.upper():
        return known  # typed without diacritics (ND → NĐ) or only the case differs (TTG → TTg)
    return up


def _accepted(m: re.Match[str], text: str) -> bool:
    """Reject slash words that are not numbers (km/h, V/v, URLs)."""
    sym = m.group("sym")
    if sum(c.isalpha() for c in sym) < 2:
        return False
    if m.group("num") is None:
        return bool(_SO_BEFORE.search(text[max(0, m.start() - 12) : m.start()]))
    if m.group("year") or "-" in sym:
        return True
    letters = [c for c in sym if c.isalpha()]
    return all(c.isupper() for c in letters)


def _format(m: re.Match[str]) -> str:
    sym = "-".join(_canonical_part(p) for p in m.group("sym").split("-"))
    year = f"{m.group('year')}/" if m.group("year") else ""
    return f"{m.group('num') or ''}/{year}{sym}"


def _iter_numbers(text: str) -> Iterator[re.Match[str]]:
    for m in _NUMBER.finditer(text):
        if _accepted(m, text):
            yield m


def normalize_doc_number(raw: str) -> str:
    """Canonical số hiệu ("168/2024/nd-cp" → "168/2024/NĐ-CP"); unrecognised input comes back stripped."""
    raw = raw.strip().removeprefix("Số").removeprefix("số").lstrip(" :")
    m = _NUMBER.fullmatch(raw)
    if m is None or sum(c.isalpha() for c in m.group("sym")) < 2:
        return raw
    return _format(m)


def find_doc_references(text: str) -> list[DocReference]:
    """Every document number in text, normalised, with offsets."""
    return [DocReference(_format(m), m.group(0), m.start(), m.end()) for m in _iter_numbers(text)]


def number_year(number: str) -> str | None:
    """The year inside a number ("03/2019/TT-BTTTT" → "2019"), if any."""
    parts = number.split("/")
    return parts[1] if len(parts) == 3 and parts[1].isdigit() else None


def doc_type_from_number(number: str) -> str | None:
    """Loại văn bản implied by the symbol; None when the symbol does not say (e.g. QH15)."""
    sym = number.rsplit("/", 1)[-1]
    head = sym.split("-", 1)[0]
    if head in _TYPE_CODES:
        return _TYPE_CODES[head]
    if _LEGISLATURE.match(head) or not head:
        return None
    # Symbols made only of agency codes ("STTTT-TTBCXB", "TTĐN-NVĐP") are how công văn are numbered.
    return "công văn" if "-" in sym else None


def parse_date(text: str) -> str | None:
    """ISO date from "ngày 27 tháng 6 năm 2024" or "30/7/2024"; None when absent or blank."""
    m = _DATE_WORDS.search(text) or _DATE_SLASH.search(text)
    if m is None:
        return None
    day, month, year = (int(g) for g in m.groups())
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _label(number: str) -> str:
    kind = doc_type_from_number(number)
    return f"{(kind or 'văn bản').capitalize()} {number}"


def number_date_conflicts(text: str, refs: list[DocReference]) -> list[str]:
    """Warnings for cited numbers whose year disagrees with the date written right after them."""
    warnings: list[str] = []
    for ref in refs:
        year = number_year(ref.number)
        m = _DATE_AFTER.match(text, ref.end)
        if year is None or m is None:
            continue
        written = " ".join(m.group("d").split())
        iso = parse_date("ngày " + written)
        if iso and iso[:4] != year:
            msg = f"{_label(ref.number)}: số hiệu ghi năm {year} nhưng ngày ban hành ghi {written}"
            if msg not in warnings:
                warnings.append(msg)
    return warnings


def own_number_conflict(number: str | None, issued_date: str | None) -> str | None:
    """Warning when the document's own number and date disagree on the year."""
    year = number_year(number or "")
    if year is None or issued_date is None or issued_date[:4] == year:
        return None
    return f"{_label(number or '')}: số hiệu ghi năm {year} nhưng ngày ban hành là {issued_date}"

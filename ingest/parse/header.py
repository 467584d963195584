"""Header and closing metadata of Vietnamese administrative documents (Nghị định 30/2020 layout)."""

from __future__ import annotations

import re

from ingest.parse.structure import Line, text_lines
from rag.records import DocumentMeta
from rag.text.docnumber import doc_type_from_number, normalize_doc_number, parse_date
from rag.text.normalize import fold_accents, is_syllable

_MOTTO = "cong hoa xa hoi chu nghia viet nam"
_RULE = re.compile(r"[-_=–—*.]{3,}$")
_STOP = re.compile(r"(?:Chương|CHƯƠNG|Phần|PHẦN)\s+\S+$|Điều\s+\d+|[IVX]{1,4}\.\s|Căn cứ\b")
_NUMBER_LINE = re.compile(r"(?:[^\W\d_][\w ]{0,25}?\s+)?[Ss]ố(?:\s+hiệu)?\s*:\s*(?P<n>\S*)")
_DATE_LINE = re.compile(r"(?P<place>[^\W\d_][^,\n]{1,40}),\s*ngày\b")
_SUBJECT = re.compile(r"(?:V/[vV]|Về việc)\b")
_RECIPIENTS = re.compile(r"Kính\s+gửi\s*:?\s*(?P<rest>.*)")
_LIST_ITEM = re.compile(r"[-+•–]\s+(?P<item>.+)")
_CC = re.compile(r"Nơi nhận\s*:?\s*(?P<rest>.*)")
_SIGN_TITLE = re.compile(r"(?:KT|TM|TL|TUQ|Q)\.\s")
_TYPE_WORDS = {
    "LUẬT": "luật",
    "BỘ LUẬT": "bộ luật",
    "HIẾN PHÁP": "hiến pháp",
    "PHÁP LỆNH": "pháp lệnh",
    "NGHỊ ĐỊNH": "nghị định",
    "NGHỊ QUYẾT": "nghị quyết",
    "THÔNG TƯ": "thông tư",
    "THÔNG TƯ LIÊN TỊCH": "thông tư liên tịch",
    "QUYẾT ĐỊNH": "quyết định",
    "CHỈ THỊ": "chỉ thị",
    "KẾ HOẠCH": "kế hoạch",
    "THÔNG BÁO": "thông báo",
    "BÁO CÁO": "báo cáo",
    "HƯỚNG DẪN": "hướng dẫn",
    "CÔNG ĐIỆN": "công điện",
    "TỜ TRÌNH": "tờ trình",
    "CÔNG VĂN": "công văn",
}
_NAMED_TYPES = frozenset({"luật", "bộ luật", "hiến pháp", "pháp lệnh"})  # their names are proper nouns
_ORG_HEADS = frozenset({"sở", "bộ", "cục", "vụ", "viện", "ban", "tổng cục", "chi cục", "văn phòng",
                        "trung tâm", "phòng", "đài", "báo"})
_LOCAL_ORGS = frozenset({"sở", "ban", "chi cục", "văn phòng", "trung tâm", "phòng", "đài", "báo"})
_PLACE_HEADS = ("thành phố", "thị xã", "thị trấn", "tỉnh", "huyện", "quận", "xã", "phường")
_PROPER = (("chính phủ", "Chính phủ"), ("quốc hội", "Quốc hội"), ("việt nam", "Việt Nam"),
           ("hồ chí minh", "Hồ Chí Minh"), ("hà nội", "Hà Nội"))


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def _fix_proper(s: str) -> str:
    for low, proper in _PROPER:
        s = re.sub(rf"(?<!\w){low}(?!\w)", proper, s, flags=re.IGNORECASE)
    return s


def agency_case(line: str) -> str:
    """Readable casing of an upper-case agency line ("SỞ THÔNG TIN VÀ TRUYỀN THÔNG" → "Sở Thông tin và…")."""
    if not line.isupper():
        return line
    words = line.split()
    lows = [w.lower() for w in words]
    out: list[str] = []
    head = 2 if " ".join(lows[:2]) in _ORG_HEADS else 1 if lows[0] in _ORG_HEADS else 0
    cap_next = True
    place = False
    i = 0
    while i < len(words):
        w, low = words[i], lows[i]
        two = " ".join(lows[i : i + 2])
        if not is_syllable(w):
            out.append(w)  # acronym: UBND, HĐND
        elif place:
            out.append(_cap(low))
        elif two in _PLACE_HEADS or low in _PLACE_HEADS:
            out.append(two if two in _PLACE_HEADS else low)
            i += 1 if two in _PLACE_HEADS else 0
            place = True
        elif cap_next or (head and i == head):
            out.append(_cap(low))
        else:
            out.append(low)
        cap_next = low in ("và", "-", "–")
        i += 1
    return _fix_proper(" ".join(out))


def _place_part(agency: str) -> str | None:
    low = agency.lower()
    for head in _PLACE_HEADS:
        idx = low.find(head + " ")
        if idx >= 0:
            return agency[idx:]
    return None


def _issuers(lines: list[str]) -> tuple[str | None, str | None]:
    """(issuer, parent_issuer) from the lines above the national motto."""
    names = [agency_case(s) for s in lines[-3:]]
    if not names:
        return None, None
    if len(names) >= 2 and names[-1].lower().startswith(_PLACE_HEADS):
        names = names[:-2] + [f"{names[-2]} {names[-1]}"]  # "ỦY BAN NHÂN DÂN" / "TỈNH KON TUM"
    issuer = names[-1]
    parent = " ".join(names[:-1]) or None
    place = _place_part(parent) if parent else None
    first = " ".join(issuer.lower().split()[:2])
    if place and _place_part(issuer) is None and (first in _LOCAL_ORGS or first.split()[0] in _LOCAL_ORGS):
        issuer = f"{issuer} {place}"  # "Sở Thông tin và Truyền thông" of "UBND tỉnh Kon Tum"
    return issuer, parent


def _clean_item(s: str) -> str:
    return s.strip().rstrip(";.,").strip()


def _continuation(lines: list[Line], i: int) -> int:
    """Index after the lines that continue line i without a blank line between."""
    j = i + 1
    while j < len(lines) and lines[j].text and not _STOP.match(lines[j].text):
        j += 1
    return j


def _title_from_type(kind: str, name: str, text: str, after: int) -> str:
    """"Luật" + "TRẬT TỰ, AN TOÀN…" → "Luật Trật tự, an toàn…", spelled as the enacting formula spells it."""
    low = name.lower() if name.isupper() else name
    body = _cap(low) if kind in _NAMED_TYPES else low[:1].lower() + low[1:]
    title = _fix_proper(f"{_cap(kind)} {body}".strip())
    folded = fold_accents(text)
    idx = folded.find(fold_accents(title), after)
    if len(folded) == len(text) and idx >= 0:
        return text[idx : idx + len(title)]
    return title


def parse_header(text: str, end: int) -> tuple[DocumentMeta, int]:
    """Header metadata and the offset where the header block ends (0 when there is none)."""
    lines = list(text_lines(text, 0, end))
    nonblank = [ln for ln in lines[:40] if ln.text]
    motto = next((k for k, ln in enumerate(nonblank[:15]) if _MOTTO in fold_accents(ln.text)), None)
    issuer_lines: list[str] = []
    fields: dict[str, str] = {}
    recipients: list[str] = []
    header_end = 0
    seen_motto = motto is None
    i = 0
    while i < len(lines) and i < 80:
        ln = lines[i]
        s = ln.text
        nxt = i + 1
        folded = fold_accents(s)
        if not s or _RULE.match(s):
            i = nxt
            continue
        if _STOP.match(s):
            break
        if _MOTTO in folded:
            prefix = s[: folded.index(_MOTTO)].strip()  # two header columns flattened onto one line
            if prefix:
                issuer_lines.append(prefix)
            seen_motto = True
        elif "doc lap" in folded and "hanh phuc" in folded:
            pass
        elif "number" not in fields and (m := _NUMBER_LINE.match(s)):
            fields["number"] = m["n"]
        elif "place" not in fields and (m := _DATE_LINE.match(s)):
            fields["place"] = m["place"].strip()
            fields["date"] = parse_date(s) or ""
        elif "kind" not in fields and s.upper() == s and s.strip() in _TYPE_WORDS:
            fields["kind"] = _TYPE_WORDS[s.strip()]
            k = next((j for j in range(i + 1, len(lines)) if lines[j].text), len(lines))
            if k < len(lines) and not _STOP.match(lines[k].text) and not _SUBJECT.match(lines[k].text):
                nxt = _continuation(lines, k)
                fields["name"] = " ".join(x.text for x in lines[k:nxt])
        elif "subject" not in fields and _SUBJECT.match(s):
            nxt = _continuation(lines, i)
            fields["subject"] = " ".join(x.text for x in lines[i:nxt])
        elif not recipients and (m := _RECIPIENTS.match(s)):
            if m["rest"]:
                recipients.append(_clean_item(m["rest"]))
            j = i + 1
            while j < len(lines):
                t = lines[j].text
                if t and not (item := _LIST_ITEM.match(t)):
                    break
                if t and item:
                    recipients.append(_clean_item(item["item"]))
                    nxt = j + 1
                j += 1
        elif not seen_motto and len(s) <= 120:
            issuer_lines.append(s)
        else:
            break
        header_end = lines[nxt - 1].end
        i = nxt
    issuer, parent = _issuers(issuer_lines)
    number = normalize_doc_number(fields["number"]) if "/" in fields.get("number", "") else None
    subject = fields.get("subject")
    kind = fields.get("kind") or (doc_type_from_number(number) if number else None)
    if kind is None and subject and subject.lower().startswith("v/v"):
        kind = "công văn"
    if "name" in fields and kind:
        title = _title_from_type(kind, fields["name"], text, header_end)
    elif subject and "kind" in fields:
        title = _title_from_type(kind or "", subject, text, header_end)  # "Quyết định về việc …"
    elif subject:
        title = _cap(re.sub(r"^(?:V/[vV]|Về việc)\s*", "", subject))
    else:
        title = ""
    meta = DocumentMeta(
        title=title,
        doc_type=kind,
        number=number,
        issued_date=fields.get("date") or None,
        issuer=issuer,
        parent_issuer=parent,
        place=fields.get("place"),
        subject=subject,
        recipients=tuple(recipients),
    )
    return meta, header_end


def parse_closing(text: str, start: int, end: int) -> tuple[tuple[str, ...], str | None, str | None]:
    """(Nơi nhận entries, signer, signer title) from the closing block."""
    cc: list[str] = []
    titles: list[str] = []
    names: list[str] = []
    in_cc = False
    for ln in text_lines(text, start, end):
        s = ln.text
        if not s:
            continue
        if m := _CC.match(s):
            in_cc = True
            if m["rest"]:
                cc.append(_clean_item(m["rest"].lstrip("-+• ")))
        elif in_cc and (item := _LIST_ITEM.match(s)):
            cc.append(_clean_item(item["item"]))
        elif len(s) > 80 or s.startswith("("):
            in_cc = False  # adoption sentence, "(Đã ký)" and the like
        elif _SIGN_TITLE.match(s) or s.isupper():
            in_cc = False
            titles.append(s)
        else:
            in_cc = False
            names.append(s)
    return tuple(cc), (names[-1] if names else None), (" / ".join(titles) or None)

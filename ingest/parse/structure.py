"""Structure of the body: legal units (Phần/Chương/Mục/Điều/Khoản/Điểm) or dispatch sections and items."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from rag.records import Unit, UnitKind


class Line(NamedTuple):
    start: int
    end: int  # exclusive, before the newline
    text: str


class _Heading(NamedTuple):
    start: int
    level: int  # a heading closes every open unit of the same or a deeper level
    kind: UnitKind | None  # None: only closes units (a plain paragraph after a bullet)
    label: str
    title: str


# Part/chapter/section headings stand alone or are followed by ". TITLE"; "Chương II của Luật này…" is text.
_PHAN = re.compile(r"(?:Phần|PHẦN)\s+((?:thứ|THỨ)\s+\w+|[IVXLC]+|\d+)(?:[.:]\s*(.*))?$")
_CHUONG = re.compile(r"(?:Chương|CHƯƠNG)\s+([IVXLC]+|\d+)(?:[.:]\s*(.*))?$")
_MUC = re.compile(r"(?:Mục|MỤC)\s+(\d+)(?:[.:]\s*(.*))?$")
_DIEU = re.compile(r"Điều\s+(\d+[a-z]?)\.\s*(.*)")
_KHOAN = re.compile(r"(\d{1,3})\s?\.\s+\S")  # "1 . Nguồn" (a typo in law 35) is still clause 1
_DIEM = re.compile(r"([a-zđ])\)\s+\S")
_SECTION = re.compile(r"([IVXLC]{1,6})\.\s+(\S.*)")
_ITEM = re.compile(r"(\d{1,2})([.)])\s+(\S.*)")
_BULLET = re.compile(r"([-•*+–])\s+\S")
_DIEU_LINE = re.compile(r"^Điều\s+\d+[a-z]?\.", re.MULTILINE)
_CLOSING = re.compile(
    r"Nơi nhận\b|(?:KT|TM|TL|TUQ|Q)\.\s+[A-ZĐ]{2}"
    r"|(?:Luật|Bộ luật|Pháp lệnh|Nghị quyết) này (?:đã )?được .{0,200}thông qua"
)
_SENTENCE_END = re.compile(r"\./\.?$")

_LETTERS = "abcdđeghiklmnopqrstuvxy"  # Vietnamese point letters, in order (no f, j, w, z)
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_LEGAL_LEVEL = {"phan": 0, "chuong": 1, "muc": 2, "dieu": 3, "khoan": 4, "diem": 5}


def text_lines(text: str, start: int = 0, end: int | None = None) -> Iterator[Line]:
    """Lines of text[start:end] with absolute offsets."""
    end = len(text) if end is None else end
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        yield Line(pos, stop, text[pos:stop])
        pos = stop + 1


def trim_end(text: str, start: int, end: int) -> int:
    """End offset with trailing whitespace removed, never before start."""
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def roman_value(s: str) -> int:
    """Integer value of a Roman numeral."""
    total = 0
    for i, ch in enumerate(s):
        v = _ROMAN[ch]
        total += -v if i + 1 < len(s) and _ROMAN[s[i + 1]] > v else v
    return total


def is_legal(text: str) -> bool:
    """Legal texts are organised in articles ("Điều N." at line start)."""
    return len(_DIEU_LINE.findall(text, 0, 20_000)) >= 2 or len(_DIEU_LINE.findall(text)) >= 3


def find_closing_start(text: str, start: int, end: int) -> int | None:
    """Offset of the closing block (Nơi nhận, signature, adoption sentence), if any."""
    for line in text_lines(text, start, end):
        if _CLOSING.match(line.text):
            return line.start
    return None


def _legal_headings(text: str, start: int, end: int) -> list[_Heading]:
    heads: list[_Heading] = []
    in_dieu = False
    last_khoan = 0
    last_diem = -1
    title_next = False  # the last Chương/Phần has its title on the next line
    for line in text_lines(text, start, end):
        s = line.text
        if not s:
            continue
        if title_next:
            title_next = False
            if s.isupper() and not _DIEU.match(s) and not _MUC.match(s):
                heads[-1] = heads[-1]._replace(title=s)
                continue
        if m := _DIEU.match(s):
            heads.append(_Heading(line.start, 3, "dieu", f"Điều {m[1]}", m[2].strip()))
            in_dieu, last_khoan, last_diem = True, 0, -1
        elif in_dieu and (m := _KHOAN.match(s)) and int(m[1]) == last_khoan + 1:
            heads.append(_Heading(line.start, 4, "khoan", f"Khoản {m[1]}", ""))
            last_khoan, last_diem = int(m[1]), -1
        elif in_dieu and (m := _DIEM.match(s)) and _LETTERS.find(m[1]) == last_diem + 1:
            heads.append(_Heading(line.start, 5 if last_khoan else 4, "diem", f"Điểm {m[1]}", ""))
            last_diem += 1
        elif m := (_MUC.match(s) or _CHUONG.match(s) or _PHAN.match(s)):
            kind: UnitKind = "muc" if s[:3].lower() == "mục" else "chuong" if s[0] in "Cc" else "phan"
            name = {"muc": "Mục", "chuong": "Chương", "phan": "Phần"}[kind]
            title = (m[2] or "").strip()
            number = m[1] if m[1][0].isdigit() or m[1].isupper() and " " not in m[1] else m[1].lower()
            heads.append(_Heading(line.start, _LEGAL_LEVEL[kind], kind, f"{name} {number}", title))
            title_next = not title
            in_dieu = False
    return heads


def _dispatch_headings(text: str, start: int, end: int) -> list[_Heading]:
    heads: list[_Heading] = []
    last_section = 0
    last_item = 0
    in_item = False
    item_marker = ""  # bullet marker used under the current item
    parents = (-1, -1)  # heading index of the open section and of the open item
    counters: dict[tuple[int, int], int] = {}  # parent (section, item or -1) → bullets so far
    lines = [ln for ln in text_lines(text, start, end) if ln.text]
    for i, line in enumerate(lines):
        s = line.text
        if (m := _SECTION.match(s)) and roman_value(m[1]) == last_section + 1:
            last_section, last_item, in_item = roman_value(m[1]), 0, False
            parents = (len(heads), -1)
            heads.append(_Heading(line.start, 0, "section", m[1], m[2].strip().rstrip(":").strip()))
        elif (m := _ITEM.match(s)) and int(m[1]) == last_item + 1:
            last_item, in_item, item_marker = int(m[1]), True, ""
            parents = (parents[0], len(heads))
            heads.append(_Heading(line.start, 1, "item", f"{m[1]}{m[2]}", _lead_title(m[3])))
        elif m := _BULLET.match(s):
            # A "*" after "-" bullets is a note for the whole section, not one more bullet of the item.
            nested = in_item and not (m[1] == "*" and item_marker not in ("", "*"))
            in_item = nested
            item_marker = m[1] if nested else item_marker
            parent = parents if nested else (parents[0], -1)
            counters[parent] = n = counters.get(parent, 0) + 1
            heads.append(_Heading(line.start, 2 if nested else 1, "bullet", f"•{n}", ""))
        elif i == len(lines) - 1 and _SENTENCE_END.search(s) and heads:
            heads.append(_Heading(line.start, 0, "paragraph", "Đoạn kết", ""))
        elif heads and heads[-1].kind == "bullet" and heads[-1].level == 2:
            heads.append(_Heading(line.start, 2, None, "", ""))  # the paragraph continues the item
    return heads


def _lead_title(rest: str) -> str:
    """The bold lead of an item ("Các cơ quan báo chí…:") when it is short, else ""."""
    head, sep, _ = rest.partition(":")
    return head.strip() if sep and len(head) <= 150 else ""


def _build_units(text: str, heads: list[_Heading], end: int) -> list[Unit]:
    """Turn headings into units: each unit runs until the next heading of the same or a higher level."""
    units: list[Unit | None] = []
    stack: list[tuple[int, _Heading]] = []  # (index in units, heading)

    def close(level: int, at: int) -> None:
        while stack and stack[-1][1].level >= level:
            idx, h = stack.pop()
            u = units[idx]
            assert u is not None
            units[idx] = Unit(u.kind, u.label, u.title, u.start, trim_end(text, u.start, at), u.path, u.depth)

    for h in heads:
        close(h.level, h.start)
        if h.kind is None:
            continue
        path = tuple(x.label for _, x in stack) + (h.label,)
        stack.append((len(units), h))
        units.append(Unit(h.kind, h.label, h.title, h.start, h.start, path, len(path) - 1))
    close(-1, end)
    return [u for u in units if u is not None]


def body_units(text: str, start: int, end: int, *, legal: bool) -> list[Unit]:
    """Units of the body text[start:end]; text before the first unit becomes a preamble unit."""
    heads = _legal_headings(text, start, end) if legal else _dispatch_headings(text, start, end)
    units = _build_units(text, heads, end)
    first = units[0].start if units else end
    pre_start = next((ln.start for ln in text_lines(text, start, first) if ln.text), first)
    pre_end = trim_end(text, pre_start, first)
    preamble: list[Unit] = []
    if pre_end > pre_start:
        if units:
            preamble = [Unit("preamble", "Mở đầu", "", pre_start, pre_end, ("Mở đầu",), 0)]
        else:
            preamble = paragraph_units(text, pre_start, pre_end)
    return preamble + units


def paragraph_units(text: str, start: int, end: int) -> list[Unit]:
    """Plain paragraphs (blank-line separated) for text without structure."""
    units: list[Unit] = []
    para_start: int | None = None
    last_end = start
    for line in text_lines(text, start, end):
        if line.text and para_start is None:
            para_start = line.start
        elif not line.text and para_start is not None:
            units.append(_paragraph(len(units) + 1, para_start, last_end))
            para_start = None
        if line.text:
            last_end = line.end
    if para_start is not None:
        units.append(_paragraph(len(units) + 1, para_start, last_end))
    return units


def _paragraph(n: int, start: int, end: int) -> Unit:
    label = f"Đoạn {n}"
    return Unit("paragraph", label, "", start, end, (label,), 0)
